package history

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func criLines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "2026-11-30T10:00:00.000000000Z stdout F line %d\n", i)
	}
	return b.String()
}

// A log within the limit is kept whole (linked), a longer one as its tail
// from a whole line; both read back as kubectl logs shows them, and survive
// the removal of the node's files.
func TestKeepAndRead(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "pods")
	if err := os.MkdirAll(src, 0o700); err != nil {
		t.Fatal(err)
	}
	small, big := filepath.Join(src, "0.log"), filepath.Join(src, "1.log")
	os.WriteFile(small, []byte(criLines(3)), 0o600)
	os.WriteFile(big, []byte(criLines(1000)), 0o600)
	s, err := Open(filepath.Join(dir, "runs"), 1024)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Keep("pod-1", []Log{{Container: "main", Attempt: 0, Path: small}, {Container: "main", Attempt: 1, Path: big}}); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(src)
	read := func(attempt int, tail int64) string {
		p, ok := s.Path("pod-1", "main", attempt)
		if !ok {
			t.Fatalf("attempt %d not kept", attempt)
		}
		var out bytes.Buffer
		if err := ReadLog(p, ReadOptions{Tail: tail}, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got := read(0, -1); got != "line 0\nline 1\nline 2\n" {
		t.Errorf("small log %q", got)
	}
	got := read(1, -1)
	if !strings.HasSuffix(got, "line 999\n") || strings.Contains(got, "line 0\n") || !strings.HasPrefix(got, "line ") {
		t.Errorf("tail of big log: %q", got)
	}
	if got := read(1, 2); got != "line 998\nline 999\n" {
		t.Errorf("tail 2: %q", got)
	}
	if _, ok := s.Path("pod-1", "../etc", 0); ok {
		t.Error("path escape accepted")
	}
	if err := s.Remove("pod-1"); err != nil {
		t.Fatal(err)
	}
	if pods, _ := s.Pods(); len(pods) != 0 {
		t.Errorf("left %v", pods)
	}
}
