package wire

import (
	"slices"
	"testing"
)

func TestFieldsComeBackAsWritten(t *testing.T) {
	var e Encoder
	strs := []string{"rm", "file\xe9", "", "a=b\x00c"}
	e.Strings(strs)
	e.String("/n\xffix")
	e.Bool(true)
	e.Bool(false)
	e.Int(-3)
	e.Uint(1 << 40)
	e.Ints([]int{3, 250, 1 << 20})
	e.Strings(nil)
	d := NewDecoder(e.Bytes())
	if got := d.Strings(); !slices.Equal(got, strs) {
		t.Errorf("strings %q, want %q", got, strs)
	}
	if got := d.String(); got != "/n\xffix" {
		t.Errorf("string %q", got)
	}
	if !d.Bool() || d.Bool() {
		t.Error("bools")
	}
	if d.Int() != -3 || d.Uint() != 1<<40 {
		t.Error("numbers")
	}
	if got := d.Ints(); !slices.Equal(got, []int{3, 250, 1 << 20}) {
		t.Errorf("ints %v", got)
	}
	if got := d.Strings(); got != nil {
		t.Errorf("no strings came back as %q", got)
	}
	if err := d.Err(); err != nil {
		t.Error(err)
	}
}

func TestTruncatedOrPaddedInputIsAnError(t *testing.T) {
	var e Encoder
	e.Strings([]string{"abc", "def"})
	b := e.Bytes()
	d := NewDecoder(b[:len(b)-1])
	d.Strings()
	if d.Err() == nil {
		t.Error("truncated input decoded without an error")
	}
	d = NewDecoder(append(append([]byte{}, b...), 7))
	d.Strings()
	if d.Err() == nil {
		t.Error("a left-over byte went unnoticed")
	}
	d = NewDecoder([]byte{0xff, 0xff, 0xff, 0x0f})
	if d.Strings(); d.Err() == nil {
		t.Error("a huge count decoded without an error")
	}
}
