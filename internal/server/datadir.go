package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/batchd/batchd/internal/storage"
)

// MarkerFile is written into every data dir batchd creates or adopts; with it
// batchd recognises a directory it may make private (0700) and fill.
const MarkerFile = "batchd-data-dir"

// LockFile is held (flock) by the server that uses a data dir, and names it:
// its pid, then its URL once it listens. The kernel drops the lock when the
// process ends, however it ends, so a kill -9 leaves no stale lock.
const LockFile = "server.lock"

const markerText = "This directory is the state of a batchd server (etcd, credentials, pods).\n"

// legacyEntries are what a data dir of a batchd older than MarkerFile holds
// for certain.
var legacyEntries = []string{"etcd", "pki"}

// mountPoints are the data dir's parts an operator may give their own file
// system before the first start (a disk for pods' logs and volumes, or for
// images): a directory holding only these is a data dir being prepared.
var mountPoints = []string{"pods", "images", "volumes", "runs"}

// CheckDataDir refuses a --data-dir that batchd must not take over: an
// existing directory with content that is not a batchd data dir (a home
// directory given by mistake would be made 0700 and filled). A missing or
// empty directory, one with MarkerFile, one laid out by an older batchd, or
// one holding only mountPoints is fine.
func CheckDataDir(dir string) error {
	fi, err := os.Stat(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data dir %s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read data dir: %w", err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	if !isDataDir(names) {
		return fmt.Errorf("data dir %s is not empty and is not a batchd data dir (it has no %s file): batchd will not make it private and fill it; give --data-dir a new or empty directory", dir, MarkerFile)
	}
	return nil
}

// isDataDir decides from a directory's entries whether batchd may use it.
func isDataDir(names []string) bool {
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if n == MarkerFile {
			return true
		}
	}
	for _, want := range legacyEntries {
		if slices.Contains(names, want) {
			return true
		}
	}
	for _, n := range names {
		if !slices.Contains(mountPoints, n) {
			return false
		}
	}
	return true
}

// writeMarker marks dir as a batchd data dir (once).
func writeMarker(dir string) error {
	p := filepath.Join(dir, MarkerFile)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.WriteFile(p, []byte(markerText), 0o600); err != nil {
		return fmt.Errorf("mark data dir: %w", err)
	}
	return nil
}

// InUseError says which server holds a data dir.
type InUseError struct {
	Dir string
	// Holder is what the holder wrote in its lock file (zero if nothing yet).
	Holder Holder
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("data dir %s is in use by %s: stop it first, or give this server another --data-dir", e.Dir, e.Holder)
}

// Holder is a server as its lock file names it.
type Holder struct {
	PID int
	URL string
}

func (h Holder) String() string {
	switch {
	case h.PID == 0:
		return "another batchd server"
	case h.URL == "":
		return fmt.Sprintf("the batchd server with pid %d (still starting)", h.PID)
	}
	return fmt.Sprintf("the batchd server with pid %d serving %s", h.PID, h.URL)
}

func (h Holder) encode() string {
	s := fmt.Sprintf("pid=%d\n", h.PID)
	if h.URL != "" {
		s += "url=" + h.URL + "\n"
	}
	return s
}

func parseHolder(s string) Holder {
	var h Holder
	for _, line := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "pid":
			h.PID, _ = strconv.Atoi(v)
		case "url":
			h.URL = v
		}
	}
	return h
}

// claimDataDir makes dir the data dir of this process, a server's or an
// agent's: created if missing, found writable, locked (a second process
// refuses at once, naming the first), marked as batchd's and readable by
// its owner only. The lock is held until release.
func claimDataDir(dir string) (*dataDirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := storage.ProbeWritable(dir); err != nil {
		return nil, fmt.Errorf("data dir %s is not writable: %w", dir, err)
	}
	// One server per data dir: a second one would wait for ever on etcd's
	// database lock.
	lock, err := lockDataDir(dir)
	if err != nil {
		return nil, err
	}
	if err := writeMarker(dir); err != nil {
		lock.release()
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		lock.release()
		return nil, fmt.Errorf("secure data dir: %w", err)
	}
	return lock, nil
}

// dataDirLock is the held LockFile of a data dir.
type dataDirLock struct {
	f      *os.File
	holder Holder
}

// lockDataDir takes dir's lock without waiting: a second server refuses at
// once, naming the first.
func lockDataDir(dir string) (*dataDirLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data dir lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		content, _ := io.ReadAll(io.LimitReader(f, 4096))
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &InUseError{Dir: dir, Holder: parseHolder(string(content))}
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	l := &dataDirLock{f: f, holder: Holder{PID: os.Getpid()}}
	if err := l.write(); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// setURL records where the server listens, for a second server's message.
func (l *dataDirLock) setURL(url string) error {
	l.holder.URL = url
	return l.write()
}

func (l *dataDirLock) write() error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("write data dir lock: %w", err)
	}
	if _, err := l.f.WriteAt([]byte(l.holder.encode()), 0); err != nil {
		return fmt.Errorf("write data dir lock: %w", err)
	}
	return nil
}

// release empties the lock file and drops the lock. The file stays: removing
// it would let a server that opened it meanwhile lock a deleted file while a
// third locks a new one.
func (l *dataDirLock) release() {
	_ = l.f.Truncate(0)
	l.f.Close()
}

// LockHolder reports whether a server holds dir's lock, and which. It creates
// nothing.
func LockHolder(dir string) (Holder, bool) {
	f, err := os.Open(filepath.Join(dir, LockFile))
	if err != nil {
		return Holder{}, false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		content, _ := io.ReadAll(io.LimitReader(f, 4096))
		return parseHolder(string(content)), errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return Holder{}, false
}
