package volume

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one file of a secret, configMap, downwardAPI or projected volume.
type File struct {
	Data []byte
	Mode os.FileMode
}

const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
)

// CheckPaths refuses file paths that are absolute, have a `..` component
// or start with `..` (the writer's own names), as the kubelet's
// AtomicWriter does.
func CheckPaths(files map[string]File) error {
	for p := range files {
		switch {
		case p == "":
			return errors.New("invalid path: must not be empty")
		case filepath.IsAbs(p):
			return fmt.Errorf("invalid path %q: must be relative path", p)
		case strings.HasPrefix(p, ".."):
			return fmt.Errorf("invalid path %q: must not start with '..'", p)
		}
		for _, part := range strings.Split(p, "/") {
			if part == ".." {
				return fmt.Errorf("invalid path %q: must not contain '..'", p)
			}
		}
	}
	return nil
}

// WriteAtomic makes dir hold exactly files, the kubelet's AtomicWriter way:
// the payload goes into a fresh directory ..<timestamp>.<random> of dir,
// the symlink ..data is replaced by one to it in a single rename, and every
// top-level name the pod sees is a symlink into ..data. Nothing existing is
// written to: a file the container swapped for a symlink is never followed.
// An unchanged payload is left as it is.
func WriteAtomic(dir string, files map[string]File, now time.Time) error {
	if err := CheckPaths(files); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	if old != "" && !strings.Contains(old, "/") && same(filepath.Join(dir, old), files) && linksInPlace(dir, files) {
		return nil
	}
	ts, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return fmt.Errorf("create payload directory: %w", err)
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	if err := writePayload(ts, files); err != nil {
		_ = os.RemoveAll(ts)
		return err
	}
	tmp := filepath.Join(dir, dataLinkTmp)
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		_ = os.RemoveAll(ts)
		return fmt.Errorf("link payload: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		_ = os.RemoveAll(ts)
		return fmt.Errorf("publish payload: %w", err)
	}
	if err := syncLinks(dir, files); err != nil {
		return err
	}
	if old != "" && old != filepath.Base(ts) && strings.HasPrefix(old, "..") && !strings.Contains(old, "/") {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return fmt.Errorf("remove old payload: %w", err)
		}
	}
	return nil
}

// writePayload writes files into the fresh directory ts, creating each with
// O_EXCL (nothing there can be a link: the directory is new).
func writePayload(ts string, files map[string]File) error {
	for rel, f := range files {
		p := filepath.Join(ts, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		_, err = out.Write(f.Data)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(p, f.Mode)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
	}
	return nil
}

// topNames are the first components of the files' paths.
func topNames(files map[string]File) map[string]bool {
	out := map[string]bool{}
	for rel := range files {
		top, _, _ := strings.Cut(rel, "/")
		out[top] = true
	}
	return out
}

// syncLinks makes each top-level name a symlink into ..data and removes
// the names no longer in the payload.
func syncLinks(dir string, files map[string]File) error {
	want := topNames(files)
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		target := filepath.Join(dataLink, n)
		if cur, err := os.Readlink(p); err == nil && cur == target {
			continue
		}
		// Something else is there (files of an older batchd): replace it.
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		if err := os.Symlink(target, p); err != nil {
			return fmt.Errorf("link %s: %w", n, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, "..") && !want[n] {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// linksInPlace tells whether every top-level name is already its link.
func linksInPlace(dir string, files map[string]File) bool {
	for n := range topNames(files) {
		if cur, err := os.Readlink(filepath.Join(dir, n)); err != nil || cur != filepath.Join(dataLink, n) {
			return false
		}
	}
	return true
}

// same tells whether payload directory ts holds exactly files, with their
// modes (regular files only: a link in it means it is not ours).
func same(ts string, files map[string]File) bool {
	count := 0
	err := filepath.WalkDir(ts, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return errors.New("not a regular file")
		}
		rel, _ := filepath.Rel(ts, p)
		f, ok := files[rel]
		if !ok {
			return errors.New("extra file")
		}
		fi, err := d.Info()
		// fsGroup adds read bits for owner and group (0440) afterwards.
		if m := fi.Mode().Perm(); err != nil || (m != f.Mode.Perm() && m != f.Mode.Perm()|0o440) {
			return errors.New("mode differs")
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(data, f.Data) {
			return errors.New("content differs")
		}
		count++
		return nil
	})
	return err == nil && count == len(files)
}
