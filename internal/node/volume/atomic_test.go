package volume

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteAtomicLayoutAndUpdate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	now := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	files := map[string]File{"key": {Data: []byte("v1"), Mode: 0o644}, "sub/dir/f": {Data: []byte("deep"), Mode: 0o400}}
	if err := WriteAtomic(dir, files, now); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "key")); l != "..data/key" {
		t.Errorf("key -> %q", l)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "sub")); l != "..data/sub" {
		t.Errorf("sub -> %q", l)
	}
	first, _ := os.Readlink(filepath.Join(dir, "..data"))
	if b, _ := os.ReadFile(filepath.Join(dir, "sub", "dir", "f")); string(b) != "deep" {
		t.Errorf("sub/dir/f = %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "sub", "dir", "f")); fi.Mode().Perm() != 0o400 {
		t.Errorf("mode %v", fi.Mode())
	}
	// Unchanged: nothing rewritten.
	if err := WriteAtomic(dir, files, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "..data")); l != first {
		t.Errorf("unchanged payload rewritten: %s -> %s", first, l)
	}
	// Changed: a new payload; the old one and dropped names are gone.
	if err := WriteAtomic(dir, map[string]File{"key": {Data: []byte("v2"), Mode: 0o644}}, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "key")); string(b) != "v2" {
		t.Errorf("key = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); err == nil {
		t.Error("dropped name sub still there")
	}
	if _, err := os.Stat(filepath.Join(dir, first)); err == nil {
		t.Error("old payload still there")
	}
	if err := WriteAtomic(dir, map[string]File{"../x": {}}, now); err == nil {
		t.Error("path with .. accepted")
	}
}

// TestWriteAtomicNeverWritesThroughALink: a payload file replaced by a
// symlink to a host file (what a container with a writable volume could
// do) is not written through on the next update.
func TestWriteAtomicNeverWritesThroughALink(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "vol")
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("untouched"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	if err := WriteAtomic(dir, map[string]File{"key": {Data: []byte("v1"), Mode: 0o644}}, now); err != nil {
		t.Fatal(err)
	}
	ts, _ := os.Readlink(filepath.Join(dir, "..data"))
	payload := filepath.Join(dir, ts, "key")
	if err := os.Remove(payload); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, payload); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "key")); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(dir, map[string]File{"key": {Data: []byte("v2"), Mode: 0o644}}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "untouched" {
		t.Fatalf("victim = %q: written through a link", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "key")); string(b) != "v2" {
		t.Errorf("key = %q", b)
	}
}
