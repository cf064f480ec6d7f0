// Command testsum summarises a run of Go tests for np's test scripts, in
// place of counting "--- PASS" lines with grep.
//
//	go test -json ./pkg | testsum -name NAME
//	go tool test2json -t -p NAME ./x.test -test.v=test2json ... | testsum -name NAME
//	testsum -pattern FILE_test.go...
//
// The first form reads the JSON events of `go test -json` (or of test2json)
// on stdin, copies each event's output to stdout (so the log reads as
// `go test -v` does), and ends with one line:
//
//	NAME: P passed, F failed (S skipped)
//
// It counts every test and subtest that ended. A skipped test counts as
// failed (a test that needs something the machine lacks fails), and so does
// a run that ended without any test failing but was not a pass (a build
// failure, a panic, a timeout, a test binary that never started). It exits
// 1 when anything failed or when no test ran at all: a selection that
// matches nothing proves nothing.
//
// With -pattern it prints the -test.run pattern that selects exactly the
// top-level tests declared in the given files, such as ^(TestA|TestB)$:
// the scripts select a set of tests by the file they live in, so a renamed
// test stays selected. With -set NAME, only the tests whose doc comment
// holds the line "//np:kernel-set NAME" (among other names, perhaps): a
// set that is not a file's, which a test keeps when renamed or moved. A
// set or a file that selects no test is an error.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	name := flag.String("name", "tests", "what the summary line names")
	pattern := flag.Bool("pattern", false, "print the -test.run pattern of the tests declared in the files given")
	set := flag.String("set", "", "with -pattern: only the tests marked //np:kernel-set NAME")
	countsFile := flag.String("counts", "", "also append \"passed failed skipped\" to this file, for a script's totals")
	flag.Parse()
	if *pattern {
		p, err := runPattern(flag.Args(), *set)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(2)
		}
		fmt.Println(p)
		return
	}
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "testsum: the events come on stdin; use -pattern FILE... for a pattern")
		os.Exit(2)
	}
	c, err := summarise(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
	}
	fmt.Printf("%s: %s\n", *name, c)
	if *countsFile != "" {
		if werr := appendCounts(*countsFile, c); werr != nil {
			fmt.Fprintln(os.Stderr, "testsum:", werr)
			os.Exit(1)
		}
	}
	if err != nil || !c.ok() {
		os.Exit(1)
	}
}

// appendCounts records c as one line "passed failed skipped", the failed
// count including skips and a broken run as the summary line does.
func appendCounts(name string, c counts) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("recording the counts: %w", err)
	}
	fmt.Fprintf(f, "%d %d %d\n", c.passed, c.failures(), c.skipped)
	if err := f.Close(); err != nil {
		return fmt.Errorf("recording the counts: %w", err)
	}
	return nil
}

// event is the part of test2json's TestEvent that the summary needs.
type event struct {
	Action string
	Test   string
	Output string
}

// counts is what one run of tests came to.
type counts struct {
	passed, failed, skipped int
	// broken: a package or binary failed with no test failing (build
	// failure, panic outside a test, timeout), or never said it ended.
	broken bool
}

func (c counts) failures() int {
	f := c.failed + c.skipped
	if c.broken && c.failed == 0 {
		f++
	}
	return f
}

func (c counts) ok() bool { return c.failures() == 0 && c.passed > 0 }

func (c counts) String() string {
	s := fmt.Sprintf("%d passed, %d failed (%d skipped)", c.passed, c.failures(), c.skipped)
	if c.passed == 0 && c.failures() == 0 {
		s += ": no test ran"
	}
	return s
}

// summarise reads JSON test events from r, copies their output to out and
// counts how the tests ended.
func summarise(r io.Reader, out io.Writer) (counts, error) {
	var c counts
	// Each package (or test binary) ends with a pass or fail event without
	// a test name; started counts those that began, ended those that ended.
	started, ended := 0, 0
	running := map[string]bool{} // tests that began and have not ended
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (go test's own build errors come as text):
			// shown, and the run cannot be a clean pass.
			fmt.Fprintf(out, "%s\n", line)
			c.broken = true
			continue
		}
		if e.Action == "output" {
			io.WriteString(out, e.Output)
			continue
		}
		if e.Test == "" {
			switch e.Action {
			case "start":
				started++
			case "pass", "skip":
				ended++
			case "fail":
				ended++
				c.broken = true
			}
			continue
		}
		switch e.Action {
		case "run":
			running[e.Test] = true
		case "pass", "fail", "skip":
			delete(running, e.Test)
		}
		switch e.Action {
		case "pass":
			c.passed++
		case "fail":
			c.failed++
		case "skip":
			c.skipped++
		}
	}
	if err := sc.Err(); err != nil {
		c.broken = true
		return c, fmt.Errorf("reading the test events: %w", err)
	}
	if ended < started || ended == 0 {
		// Cut off: the stream stopped before the binary said how it ended.
		c.broken = true
	}
	if len(running) > 0 {
		names := make([]string, 0, len(running))
		for n := range running {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(out, "testsum: these tests began and never ended: %s\n", strings.Join(names, " "))
	}
	if c.passed == 0 && c.failures() == 0 {
		return c, errors.New("no test ran: the selection matched nothing")
	}
	return c, nil
}
