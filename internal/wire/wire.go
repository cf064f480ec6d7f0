// Package wire is the byte format in which np and its re-executed helpers
// (the ns init, the ptrace stub) pass a spec and a failure over a pipe:
// length-prefixed strings and varints, written and read field by field in
// the same order by both ends, which are the same binary.
//
// Bytes stay bytes (argv, the environment and paths need not be UTF-8),
// as with encoding/gob, which this replaces: gob's package set-up and its
// reflection on first use were about 6% of the CPU time of np run true,
// paid by np and by the helper on every run.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Encoder appends fields to a buffer.
type Encoder struct{ b []byte }

// Bytes is what was encoded.
func (e *Encoder) Bytes() []byte { return e.b }

// Uint appends v.
func (e *Encoder) Uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

// Int appends v.
func (e *Encoder) Int(v int64) { e.b = binary.AppendVarint(e.b, v) }

// Bool appends v.
func (e *Encoder) Bool(v bool) {
	if v {
		e.Uint(1)
	} else {
		e.Uint(0)
	}
}

// String appends s: its length, then its bytes.
func (e *Encoder) String(s string) {
	e.Uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// Strings appends ss: their number, then each.
func (e *Encoder) Strings(ss []string) {
	e.Uint(uint64(len(ss)))
	for _, s := range ss {
		e.String(s)
	}
}

// Ints appends vs: their number, then each.
func (e *Encoder) Ints(vs []int) {
	e.Uint(uint64(len(vs)))
	for _, v := range vs {
		e.Int(int64(v))
	}
}

// Decoder reads fields from a buffer. The first error sticks: every later
// read returns a zero value, and Err reports it.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder reads b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

var errShort = errors.New("truncated")

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Err is the first error, or one for bytes left over once every field was
// read.
func (d *Decoder) Err() error {
	if d.err == nil && len(d.b) > 0 {
		return fmt.Errorf("%d bytes left over", len(d.b))
	}
	return d.err
}

// Uint reads what Encoder.Uint wrote.
func (d *Decoder) Uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Int reads what Encoder.Int wrote.
func (d *Decoder) Int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Bool reads what Encoder.Bool wrote.
func (d *Decoder) Bool() bool { return d.Uint() != 0 }

// String reads what Encoder.String wrote.
func (d *Decoder) String() string {
	n := d.Uint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a number of items, each at least one byte long.
func (d *Decoder) count() int {
	n := d.Uint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return 0
	}
	return int(n)
}

// Strings reads what Encoder.Strings wrote; none is nil.
func (d *Decoder) Strings() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.String()
	}
	return ss
}

// Ints reads what Encoder.Ints wrote; none is nil.
func (d *Decoder) Ints() []int {
	n := d.count()
	if n == 0 {
		return nil
	}
	vs := make([]int, n)
	for i := range vs {
		vs[i] = int(d.Int())
	}
	return vs
}
