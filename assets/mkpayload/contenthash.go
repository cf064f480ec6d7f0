package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/np-portable/np/internal/storepath"
)

// selfPlaceholder stands for a path's own hash part while its content hash
// is computed: the content names the path (RUNPATHs, the ELF interpreter),
// so the name can only derive from the content with that name left out —
// Nix's "hash modulo self-references" for content-addressed paths.
var selfPlaceholder = strings.Repeat("0", storepath.HashPartLen)

// contentAddress renames every staged path after its content. Paths are
// staged under provisional hash parts; here, in an order where each path's
// references come first, a path's provisional references to others are
// rewritten to their final names, its NAR is hashed with its own hash
// part replaced by a placeholder, and the final hash part is derived from
// that hash, its references and its name; then every occurrence of the
// provisional hash part (in file contents and link targets: the same
// length, so binaries stay intact) becomes the final one. Two payloads
// therefore share a store path name only when the path's content is the
// same, and the same content always gets the same name.
func contentAddress(paths []*storePath) error {
	var provisional []string
	byHash := map[string]*storePath{}
	for _, p := range paths {
		provisional = append(provisional, p.hash)
		byHash[p.hash] = p
	}
	refs := map[*storePath][]*storePath{}
	for _, p := range paths {
		info, err := storepath.Scan(p.dir, provisional)
		if err != nil {
			return fmt.Errorf("scanning %s: %w", p.name, err)
		}
		for _, h := range info.Refs {
			if q := byHash[h]; q != p {
				refs[p] = append(refs[p], q)
			}
		}
	}
	order, err := referencesFirst(paths, refs)
	if err != nil {
		return err
	}
	for _, p := range order {
		var finalRefs []string
		for _, q := range refs[p] {
			// q is final already: point p at q's final name.
			if err := rewriteTree(p.dir, q.provisional, q.hash); err != nil {
				return err
			}
			finalRefs = append(finalRefs, q.full())
		}
		sort.Strings(finalRefs)
		sum, self, err := hashModuloSelf(p.dir, p.hash)
		if err != nil {
			return fmt.Errorf("hashing %s: %w", p.name, err)
		}
		final := storepath.HashPart(fmt.Sprintf("np-payload-v2:sha256:%s:%s:self=%t:%s",
			hex.EncodeToString(sum[:]), strings.Join(finalRefs, ":"), self, p.name))
		if err := rewriteTree(p.dir, p.hash, final); err != nil {
			return err
		}
		p.provisional, p.hash = p.hash, final
		dir := filepath.Join(filepath.Dir(p.dir), p.base())
		if err := os.Rename(p.dir, dir); err != nil {
			return fmt.Errorf("renaming %s: %w", p.name, err)
		}
		p.dir = dir
	}
	return nil
}

// referencesFirst orders paths so that each comes after the paths it
// refers to (besides itself). A cycle between two payload paths would
// leave no name to start from: it is an error.
func referencesFirst(paths []*storePath, refs map[*storePath][]*storePath) ([]*storePath, error) {
	var order []*storePath
	state := map[*storePath]int{} // 1 visiting, 2 done
	var visit func(p *storePath) error
	visit = func(p *storePath) error {
		switch state[p] {
		case 1:
			return fmt.Errorf("store paths refer to each other in a cycle through %s: their names cannot derive from their contents", p.name)
		case 2:
			return nil
		}
		state[p] = 1
		for _, q := range refs[p] {
			if err := visit(q); err != nil {
				return err
			}
		}
		state[p] = 2
		order = append(order, p)
		return nil
	}
	for _, p := range paths {
		if err := visit(p); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// hashModuloSelf hashes dir's NAR with every occurrence of its own hash
// part replaced by selfPlaceholder, and says whether there was one.
func hashModuloSelf(dir, self string) ([32]byte, bool, error) {
	var nar bytes.Buffer
	if err := storepath.WriteNAR(&nar, dir); err != nil {
		return [32]byte{}, false, err
	}
	b := nar.Bytes()
	found := bytes.Contains(b, []byte(self))
	if found {
		b = bytes.ReplaceAll(b, []byte(self), []byte(selfPlaceholder))
	}
	return sha256.Sum256(b), found, nil
}

// rewriteTree replaces old by replacement (the same length) in the
// contents of every file and the target of every link below dir.
func rewriteTree(dir, old, replacement string) error {
	if len(old) != len(replacement) {
		return fmt.Errorf("rewriting %s: hash parts differ in length", dir)
	}
	from, to := []byte(old), []byte(replacement)
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil || !strings.Contains(target, old) {
				return err
			}
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.Symlink(strings.ReplaceAll(target, old, replacement), path)
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil || !bytes.Contains(data, from) {
				return err
			}
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			if err := os.Chmod(path, st.Mode().Perm()|0o200); err != nil {
				return err
			}
			if err := os.WriteFile(path, bytes.ReplaceAll(data, from, to), 0); err != nil {
				return fmt.Errorf("rewriting %s: %w", path, err)
			}
			return os.Chmod(path, st.Mode().Perm())
		}
		return nil
	})
}
