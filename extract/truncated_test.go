package extract

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTruncatedOrCorruptBinaryIsNotCalledBare(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self) // a Go binary without payload
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"bare", data, ""},
		{"cut", data[:len(data)-4096], "is truncated:"},
		{"payload cut off", append(append([]byte{}, data...), make([]byte, 5000)...), "truncated or corrupt"},
	} {
		p := filepath.Join(t.TempDir(), "np")
		os.WriteFile(p, tc.data, 0o755)
		f, _ := os.Open(p)
		_, err := ReadTrailer(f)
		f.Close()
		switch {
		case tc.want == "" && !errors.Is(err, ErrNoPayload):
			t.Errorf("%s: %v, want ErrNoPayload", tc.name, err)
		case tc.want != "" && (err == nil || errors.Is(err, ErrNoPayload) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
