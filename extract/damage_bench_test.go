package extract

import (
	"path/filepath"
	"testing"
)

// BenchmarkQuickCheck measures the damage check every run makes, on an
// install of bin/np's real payload (about 500 entries):
//
//	go test -run - -bench QuickCheck ./extract
func BenchmarkQuickCheck(b *testing.B) {
	p, err := OpenPayload(filepath.Join("..", "bin", "np"))
	if err != nil {
		b.Fatalf("the benchmark needs bin/np (make): %v", err)
	}
	defer p.Close()
	tg := Target{NixDir: filepath.Join(b.TempDir(), "nix")}
	defer RemoveTree(tg.NixDir)
	if _, _, err := tg.Ensure(p, Options{}); err != nil {
		b.Fatal(err)
	}
	fp := p.Trailer.Fingerprint()
	s := tg.readState(fp)
	b.ReportMetric(float64(len(s.Files)+len(s.Links)+len(s.Dirs)), "entries")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tg.quickCheck(s); err != nil {
			b.Fatal(err)
		}
	}
}
