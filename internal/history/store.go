package history

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultLogLimit is the default size kept of one container run's log.
const DefaultLogLimit = 1 << 20

// Store holds the kept logs under one directory.
type Store struct {
	dir   string
	limit int64
}

// Open returns the store in dir (created if missing), keeping at most limit
// bytes, the tail, of each container run's log (0: DefaultLogLimit; < 0:
// none kept).
func Open(dir string, limit int64) (*Store, error) {
	if limit == 0 {
		limit = DefaultLogLimit
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create run log directory: %w", err)
	}
	return &Store{dir: dir, limit: limit}, nil
}

// Log is one container run's log file, as the node runtime wrote it.
type Log struct {
	Container string
	Attempt   int
	Path      string
}

// Keep takes the logs of a pod whose state the node is about to remove. A
// log within the limit is hard-linked (no bytes written); a longer one, or
// one on another file system, is copied from its first whole line within
// the last limit bytes. Calling it again for the same pod replaces what it
// kept. The runs must have ended.
func (s *Store) Keep(podUID string, logs []Log) error {
	if s == nil || s.limit < 0 || len(logs) == 0 || !safeName(podUID) {
		return nil
	}
	var errs []error
	dirs := map[string]bool{}
	for _, l := range logs {
		if !safeName(l.Container) || l.Attempt < 0 {
			continue
		}
		dir := filepath.Join(s.dir, podUID, l.Container)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			errs = append(errs, err)
			continue
		}
		dirs[dir] = true
		if err := s.keepOne(l.Path, filepath.Join(dir, strconv.Itoa(l.Attempt)+".log")); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("keep log of %s/%s attempt %d: %w", podUID, l.Container, l.Attempt, err))
		}
	}
	// The links are metadata: one sync of each directory makes them durable.
	for dir := range dirs {
		syncDir(dir)
	}
	syncDir(filepath.Join(s.dir, podUID))
	syncDir(s.dir)
	return errors.Join(errs...)
}

func (s *Store) keepOne(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	_ = os.Remove(tmp)
	if fi.Size() <= s.limit {
		if err := os.Link(src, tmp); err == nil {
			return os.Rename(tmp, dst)
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if start := fi.Size() - s.limit; start > 0 {
		if start, err = lineAfter(in, start); err != nil {
			return err
		}
		if _, err := in.Seek(start, io.SeekStart); err != nil {
			return err
		}
	}
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.LimitReader(in, s.limit)); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// lineAfter is the offset of the first line that starts at or after off.
func lineAfter(f *os.File, off int64) (int64, error) {
	if _, err := f.Seek(off-1, io.SeekStart); err != nil {
		return 0, err
	}
	buf := make([]byte, 32*1024)
	pos := off - 1
	for {
		n, err := f.Read(buf)
		if i := strings.IndexByte(string(buf[:n]), '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += int64(n)
		if err != nil {
			return pos, nil // no newline: nothing whole to keep
		}
	}
}

// Path is the kept log of a container run, if there is one.
func (s *Store) Path(podUID, container string, attempt int) (string, bool) {
	if s == nil || !safeName(podUID) || !safeName(container) || attempt < 0 {
		return "", false
	}
	p := filepath.Join(s.dir, podUID, container, strconv.Itoa(attempt)+".log")
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

// Remove deletes a pod's kept logs.
func (s *Store) Remove(podUID string) error {
	if s == nil || !safeName(podUID) {
		return nil
	}
	return os.RemoveAll(filepath.Join(s.dir, podUID))
}

// Pods lists the pods with kept logs and when their logs were kept.
func (s *Store) Pods() (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if s == nil {
		return out, nil
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() || !safeName(e.Name()) {
			continue
		}
		if fi, err := e.Info(); err == nil {
			out[e.Name()] = fi.ModTime()
		}
	}
	return out, nil
}

// Size is the bytes the kept logs take.
func (s *Store) Size() (int64, error) {
	var n int64
	err := filepath.WalkDir(s.dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// safeName admits a single path element.
func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00") && !strings.HasPrefix(s, ".")
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
