package launch

import (
	"syscall"
	"testing"
)

func TestLookupFindsOnlyRegisteredHelpers(t *testing.T) {
	called := ""
	tab := Table{
		Prefix + "a": func() (syscall.WaitStatus, error) { called = "a"; return 0, nil },
	}
	for _, args := range [][]string{
		{"np"},
		{"np", "run"},
		{"np", Prefix + "b"},
		{"np", "a"},
	} {
		if _, ok := tab.Lookup(args); ok {
			t.Errorf("Lookup(%q) found a helper", args)
		}
	}
	e, ok := tab.Lookup([]string{"np", Prefix + "a", "x"})
	if !ok {
		t.Fatal("registered helper not found")
	}
	if ws, err := e(); err != nil || ws != 0 || called != "a" {
		t.Fatalf("entry ran wrong: err %v, called %q", err, called)
	}
}
