// Command attach appends a payload archive to an np binary:
//
//	go run ./extract/attach BINARY PAYLOAD
//
// The Makefile uses it to turn a bare `go build` output into bin/np.
package main

import (
	"fmt"
	"os"

	"github.com/np-portable/np/extract"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: attach BINARY PAYLOAD")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "attach:", err)
		os.Exit(1)
	}
}

func run(bin, payloadPath string) error {
	p, err := os.Open(payloadPath)
	if err != nil {
		return fmt.Errorf("opening payload: %w", err)
	}
	defer p.Close()
	t, err := extract.Attach(bin, p)
	if err != nil {
		return err
	}
	fmt.Printf("attached %d bytes of payload to %s (fingerprint %s)\n", t.Length, bin, t.Short())
	return nil
}
