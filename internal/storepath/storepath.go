// Package storepath implements the small pieces of Nix's store-path
// arithmetic that np needs: Nix's base32 alphabet and bit order, hash
// compression, NAR serialisation, and reference scanning. The payload
// builder (assets/mkpayload) uses them at build time and the installer
// (extract) at run time, where it rehashes store paths to find damage;
// hence a package below both. They must match Nix bit for bit, because the
// installer registers the payload in Nix's database and `nix-store --verify
// --check-contents` recomputes them.
package storepath

import (
	"crypto/sha256"
	"fmt"
)

// Base32Chars is Nix's base32 alphabet: digits and lower-case letters
// without e, o, u and t, so hashes cannot spell common words.
const Base32Chars = "0123456789abcdfghijklmnpqrsvwxyz"

// HashPartLen is the length of the hash part of a store path name.
const HashPartLen = 32

// Base32 encodes b the way Nix's printHash32 does. Nix emits the most
// significant 5-bit group first but numbers bits from the least significant
// end of byte 0, so this is not RFC 4648 base32 and not even the same bit
// order read backwards; the loop mirrors Nix's exactly.
func Base32(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	n := (len(b)*8-1)/5 + 1
	out := make([]byte, 0, n)
	for i := n - 1; i >= 0; i-- {
		bit := i * 5
		k := bit / 8
		j := uint(bit % 8)
		c := b[k] >> j
		if k+1 < len(b) {
			c |= b[k+1] << (8 - j)
		}
		out = append(out, Base32Chars[c&0x1f])
	}
	return string(out)
}

// CompressHash folds h into n bytes by XOR, as Nix's compressHash does to
// shorten a SHA-256 into the 160-bit hash part of a store path.
func CompressHash(h []byte, n int) []byte {
	out := make([]byte, n)
	for i, c := range h {
		out[i%n] ^= c
	}
	return out
}

// HashPart returns the 32-character store-path hash part Nix would derive
// from the fingerprint string s: base32(compressHash(sha256(s), 20)).
func HashPart(s string) string {
	sum := sha256.Sum256([]byte(s))
	return Base32(CompressHash(sum[:], 20))
}

// ValidName reports whether name is acceptable after the hash part of a
// store path; Nix rejects other characters and a leading dot.
func ValidName(name string) error {
	if name == "" || len(name) > 211 {
		return fmt.Errorf("store path name %q: bad length", name)
	}
	if name[0] == '.' {
		return fmt.Errorf("store path name %q: starts with a dot", name)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		switch c {
		case '+', '-', '.', '_', '?', '=':
			ok = true
		}
		if !ok {
			return fmt.Errorf("store path name %q: bad character %q", name, c)
		}
	}
	return nil
}
