package storepath

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBase32KnownVectors(t *testing.T) {
	sha256abc := sha256.Sum256([]byte("abc"))
	// The 20-byte vector's input is given as hex in the Nix tests (it is
	// not sha1("abc")); it checks the 160-bit length used for hash parts.
	h160, _ := hex.DecodeString("800d59cfcd3c05e900cb4e214be48f6b886a08df")
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		// Vectors from Nix's own hash-conversion tests.
		{"sha256 abc", sha256abc[:], "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"},
		{"160-bit", h160, "vw46m23bizj4n8afrc0fj19wrp7mj3c0"},
		{"20 zero bytes", make([]byte, 20), strings.Repeat("0", 32)},
		// Only bit 0 of byte 0 set: Nix puts the least significant group
		// last, so the output is all zeros ending in "1".
		{"low bit", append([]byte{1}, make([]byte, 19)...), strings.Repeat("0", 31) + "1"},
		// The top bit of the last byte lands in the first character:
		// bit 159 is bit 4 of group 31, worth 16 = 'h'.
		{"high bit", append(make([]byte, 19), 0x80), "h" + strings.Repeat("0", 31)},
		{"empty", nil, ""},
	}
	for _, c := range cases {
		if got := Base32(c.in); got != c.want {
			t.Errorf("%s: Base32 = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCompressHash(t *testing.T) {
	in := make([]byte, 32)
	for i := range in {
		in[i] = byte(i + 1)
	}
	got := CompressHash(in, 20)
	for i := 0; i < 20; i++ {
		want := byte(i + 1)
		if i+20 < 32 {
			want ^= byte(i + 21)
		}
		if got[i] != want {
			t.Fatalf("byte %d = %#x, want %#x", i, got[i], want)
		}
	}
	// sha256("") folded to 20 bytes, derived by hand from its hex digest
	// e3b0c442 98fc1c14 9afbf4c8 996fb924 27ae41e4 | 649b934c a495991b
	// 7852b855: the first 12 bytes get XORed with the last 12.
	empty := sha256.Sum256(nil)
	got = CompressHash(empty[:], 20)
	wantHex := "872b570e3c69850fe2a94c9d" + "996fb92427ae41e4"
	if hex.EncodeToString(got) != wantHex {
		t.Errorf("CompressHash(sha256(\"\")) = %x, want %s", got, wantHex)
	}
}

func TestHashPart(t *testing.T) {
	h := HashPart("np-payload-v1:nix-2.26.3:x")
	if len(h) != HashPartLen {
		t.Fatalf("hash part %q has length %d", h, len(h))
	}
	for _, c := range h {
		if !strings.ContainsRune(Base32Chars, c) {
			t.Fatalf("hash part %q has character %q outside the alphabet", h, c)
		}
	}
	if h == HashPart("np-payload-v1:nix-2.26.3:y") {
		t.Fatal("different fingerprints gave the same hash part")
	}
	sum := sha256.Sum256([]byte("np-payload-v1:nix-2.26.3:x"))
	if want := Base32(CompressHash(sum[:], 20)); h != want {
		t.Fatalf("HashPart = %s, want %s", h, want)
	}
}

// narStr builds one NAR string token by hand, independently of narWriter.
func narStr(s string) []byte {
	b := make([]byte, 8, 8+len(s)+8)
	binary.LittleEndian.PutUint64(b, uint64(len(s)))
	b = append(b, s...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestNARRegularFileLayout(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteNAR(&got, p); err != nil {
		t.Fatal(err)
	}
	// Spelled out byte by byte: 13 = len("nix-archive-1"), then "(" "type"
	// "regular" "contents" and the one-byte contents, each padded to 8.
	want := []byte{}
	want = append(want, 13, 0, 0, 0, 0, 0, 0, 0)
	want = append(want, "nix-archive-1\x00\x00\x00"...)
	want = append(want, 1, 0, 0, 0, 0, 0, 0, 0, '(', 0, 0, 0, 0, 0, 0, 0)
	want = append(want, 4, 0, 0, 0, 0, 0, 0, 0, 't', 'y', 'p', 'e', 0, 0, 0, 0)
	want = append(want, 7, 0, 0, 0, 0, 0, 0, 0, 'r', 'e', 'g', 'u', 'l', 'a', 'r', 0)
	want = append(want, 8, 0, 0, 0, 0, 0, 0, 0, 'c', 'o', 'n', 't', 'e', 'n', 't', 's')
	want = append(want, 1, 0, 0, 0, 0, 0, 0, 0, 'a', 0, 0, 0, 0, 0, 0, 0)
	want = append(want, 1, 0, 0, 0, 0, 0, 0, 0, ')', 0, 0, 0, 0, 0, 0, 0)
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("NAR bytes:\n got %x\nwant %x", got.Bytes(), want)
	}
	sum, size, err := NARHash(p)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(want)) || sum != sha256.Sum256(want) {
		t.Fatalf("NARHash = %x/%d, want %x/%d", sum, size, sha256.Sum256(want), len(want))
	}
}

func TestNARTreeLayout(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sub"), 0o755))
	// Created in reverse order so a writer that does not sort fails.
	must(os.Symlink("x", filepath.Join(root, "z")))
	must(os.WriteFile(filepath.Join(root, "sub", "exe"), []byte("#!"), 0o755))
	// Group/other execute bits alone do not make a file executable in Nix.
	must(os.WriteFile(filepath.Join(root, "b"), []byte("12345678"), 0o654))

	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	s := narStr
	want := cat(s("nix-archive-1"), s("("), s("type"), s("directory"),
		s("entry"), s("("), s("name"), s("b"), s("node"),
		s("("), s("type"), s("regular"), s("contents"), s("12345678"), s(")"),
		s(")"),
		s("entry"), s("("), s("name"), s("sub"), s("node"),
		s("("), s("type"), s("directory"),
		s("entry"), s("("), s("name"), s("exe"), s("node"),
		s("("), s("type"), s("regular"), s("executable"), s(""), s("contents"), s("#!"), s(")"),
		s(")"),
		s(")"),
		s(")"),
		s("entry"), s("("), s("name"), s("z"), s("node"),
		s("("), s("type"), s("symlink"), s("target"), s("x"), s(")"),
		s(")"),
		s(")"))
	var got bytes.Buffer
	must(WriteNAR(&got, root))
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("NAR bytes:\n got %x\nwant %x", got.Bytes(), want)
	}
}

func TestRefScannerAcrossWrites(t *testing.T) {
	a := strings.Repeat("a", 32)
	b := strings.Repeat("b", 32)
	c := strings.Repeat("c", 32)
	r := NewRefScanner([]string{a, b, c})
	stream := "xx" + a + "yy/nix/store/" + c + "-foo"
	// Feed it in 5-byte pieces so every hash part straddles writes.
	for i := 0; i < len(stream); i += 5 {
		end := min(i+5, len(stream))
		if _, err := r.Write([]byte(stream[i:end])); err != nil {
			t.Fatal(err)
		}
	}
	got := r.Found()
	if len(got) != 2 || got[0] != a || got[1] != c {
		t.Fatalf("Found = %v, want [%s %s]", got, a, c)
	}
}

func TestScanFindsSelfAndSymlinkReferences(t *testing.T) {
	self := HashPart("self")
	other := HashPart("other")
	unused := HashPart("unused")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("/nix/store/"+self+"-x/lib"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nix/store/"+other+"-y", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	info, err := Scan(dir, []string{self, other, unused})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{self, other}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if len(info.Refs) != 2 || info.Refs[0] != want[0] || info.Refs[1] != want[1] {
		t.Fatalf("Refs = %v, want %v", info.Refs, want)
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"nix-2.26.3", "ca-certificates-20250419+deb13u1", "busybox-1.37.0"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".hidden", "a/b", "a b", "é"} {
		if ValidName(bad) == nil {
			t.Errorf("ValidName(%q) accepted", bad)
		}
	}
}

// TestNARHashMatchesNix checks against values printed by the real Nix 2.26.3
// from this payload (`nix-hash --type sha256 PATH` and `nix-store --dump PATH
// | wc -c`) for the same trees built here.
func TestNARHashMatchesNix(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "hello"), []byte("hello\n"), 0o644))
	tree := filepath.Join(dir, "tree")
	must(os.MkdirAll(filepath.Join(tree, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(tree, "hello"), []byte("hello\n"), 0o644))
	must(os.WriteFile(filepath.Join(tree, "sub", "run"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.Symlink("sub/run", filepath.Join(tree, "link")))
	must(os.WriteFile(filepath.Join(tree, "empty"), nil, 0o644))
	must(os.Symlink("/nix/store/foo", filepath.Join(dir, "sym")))

	cases := []struct {
		path    string
		hex     string
		base32  string
		narSize int64
	}{
		{"hello", "1c37d01af40be2e80691de3cc3df44377a699afbb17c68f080964b2fd071fc13",
			"04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw", 120},
		{"tree", "451c50b30f3ee57daa0669d47aa46912d89009857cd789c8a0bf87645e2004ec",
			"1v0441g691xzl348kmvwhl4r1n0jd6j7mm390sm7vr9y1yrm0725", 1072},
		{"sym", "3a2f661cd7f68c99dfbcf9ff2dba34001f2ea2d56cf17159d1522e24ca9838a3",
			"18rqk3528bjjs5cp3wbcsni2w7q06jx2vzzrpkgrk37nswf6cbrs", 128},
	}
	for _, c := range cases {
		sum, size, err := NARHash(filepath.Join(dir, c.path))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(sum[:]); got != c.hex || size != c.narSize {
			t.Errorf("%s: NAR sha256 %s size %d, want %s size %d", c.path, got, size, c.hex, c.narSize)
		}
		if got := Base32(sum[:]); got != c.base32 {
			t.Errorf("%s: base32 %s, want %s", c.path, got, c.base32)
		}
	}
}

func TestBase32MatchesNixHash(t *testing.T) {
	// `nix-hash --to-base32` of sha256("") and sha1("abc").
	empty := sha256.Sum256(nil)
	if got, want := Base32(empty[:]), "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"; got != want {
		t.Errorf("Base32(sha256(\"\")) = %s, want %s", got, want)
	}
	abc := sha1.Sum([]byte("abc"))
	if got, want := Base32(abc[:]), "kpcd173cq987hw957sx6m0868wv3x6d9"; got != want {
		t.Errorf("Base32(sha1(\"abc\")) = %s, want %s", got, want)
	}
}
