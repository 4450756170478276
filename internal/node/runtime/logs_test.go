package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func writeCRI(t testing.TB, path string, lines ...string) {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("2026-11-30T07:00:00.000000001Z stdout " + l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, path string, opts LogOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := ReadLog(context.Background(), path, opts, &b, func() bool { return false }); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTailMatchesTheWholeLog: --tail=N of a log with partial (P) entries is
// the last N logical lines of the whole output, for every N.
func TestTailMatchesTheWholeLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	writeCRI(t, path, "F one", "P tw", "P o-", "F two", "F three", "P four-", "F four")
	data, _ := os.ReadFile(path)
	// A line that is not CRI at all, and an unfinished last line, are skipped.
	data = bytes.Replace(data, []byte("F three\n"), []byte("F three\ngarbage\n"), 1)
	if err := os.WriteFile(path, append(data, "2026-11-30T07:00:00Z stdout F unfinished"...), 0o600); err != nil {
		t.Fatal(err)
	}
	all := read(t, path, LogOptions{Tail: -1})
	if all != "one\ntwo-two\nthree\nfour-four\n" {
		t.Fatalf("all = %q", all)
	}
	lines := strings.SplitAfter(all, "\n")
	lines = lines[:len(lines)-1]
	for n := 0; n <= 6; n++ {
		want := strings.Join(lines[max(0, len(lines)-n):], "")
		if got := read(t, path, LogOptions{Tail: int64(n)}); got != want {
			t.Errorf("tail %d = %q, want %q", n, got, want)
		}
	}
}

// TestLogReadsAcrossRotatedFiles: rotated files come first, in age order;
// --tail counts back across them; limitBytes spans them.
func TestLogReadsAcrossRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	writeCRI(t, path+".20261130-070000.000000001", "F 1", "F 2")
	writeCRI(t, path+".20261130-070001.000000002", "F 3", "P 4-")
	writeCRI(t, path, "F 4", "F 5")
	writeCRI(t, filepath.Join(dir, "1.log"), "F other attempt")
	if got := read(t, path, LogOptions{Tail: -1}); got != "1\n2\n3\n4-4\n5\n" {
		t.Errorf("all = %q", got)
	}
	if got := read(t, path, LogOptions{Tail: 3}); got != "3\n4-4\n5\n" {
		t.Errorf("tail 3 = %q", got)
	}
	if got := read(t, path, LogOptions{Tail: 1}); got != "5\n" {
		t.Errorf("tail 1 = %q", got)
	}
	if got := read(t, path, LogOptions{Tail: -1, LimitBytes: 5}); got != "1\n2\n3" {
		t.Errorf("limit 5 = %q", got)
	}
}

// TestFollowContinuesAcrossARotation: a follower reads on when the
// supervisor renames the file and starts a new one.
func TestFollowContinuesAcrossARotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	writeCRI(t, path, "F before")
	var out bytes.Buffer
	done := make(chan error, 1)
	stop := make(chan struct{})
	running := func() bool {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	pr := &syncBuffer{b: &out}
	go func() { done <- ReadLog(context.Background(), path, LogOptions{Tail: -1, Follow: true}, pr, running) }()
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for pr.String() != want {
			if time.Now().After(deadline) {
				t.Fatalf("followed %q, want %q", pr.String(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("before\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "2026-11-30T07:00:01Z stdout F last of old\n")
	f.Close()
	if err := os.Rename(path, path+".20261130-070001.000000000"); err != nil {
		t.Fatal(err)
	}
	writeCRI(t, path, "F after")
	waitFor("before\nlast of old\nafter\n")
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bigLog writes a CRI log of about size bytes of 100-byte lines.
func bigLog(t testing.TB, path string, size int) {
	t.Helper()
	line := "2026-11-30T07:00:00.000000001Z stdout F " + strings.Repeat("x", 59) + "\n"
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat(line, 10000)
	for written := 0; written < size; written += len(chunk) {
		if _, err := f.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintf(f, "2026-11-30T07:00:00.000000001Z stdout F the end\n")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTailOfALargeLogIsBounded: --tail=1 of a 64 MiB log allocates a few
// hundred KiB, not the file (it read the whole file into memory).
func TestTailOfALargeLogIsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	bigLog(t, path, 64<<20)
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	got := read(t, path, LogOptions{Tail: 1})
	goruntime.ReadMemStats(&after)
	if got != "the end\n" {
		t.Fatalf("tail 1 = %q", got)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("--tail=1 of a 64 MiB log allocated %d bytes", alloc)
	}
	// sinceTime and limitBytes stream the file: bounded too.
	goruntime.ReadMemStats(&before)
	got = read(t, path, LogOptions{Tail: -1, Since: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
	goruntime.ReadMemStats(&after)
	if got != "" {
		t.Fatalf("since = %q", got)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("--since-time of a 64 MiB log allocated %d bytes", alloc)
	}
}

func BenchmarkTailOfA256MiBLog(b *testing.B) {
	path := filepath.Join(b.TempDir(), "0.log")
	bigLog(b, path, 256<<20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		if err := ReadLog(context.Background(), path, LogOptions{Tail: 10}, &out, func() bool { return false }); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseTimestampFastPathAgrees(t *testing.T) {
	for _, s := range []string{"2026-11-30T07:00:00.000000001Z", "2024-02-29T23:59:59.999999999Z", "2026-02-31T00:00:00.000000000Z", "2026-11-30T07:00:00Z", "2026-13-30T07:00:00.000000001Z"} {
		got, ok := parseTimestamp([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if ok != (err == nil) || (ok && !got.Equal(want)) {
			t.Errorf("parseTimestamp(%q) = %v %v, want %v %v", s, got, ok, want, err)
		}
	}
}

// TestSupervisorRotatesAndCapsTheLog: a run printing ~200 KiB with a 4 KiB
// cap and 3 files keeps 3 files of about 4 KiB: the newest output, readable
// whole and by --tail across the files.
func TestSupervisorRotatesAndCapsTheLog(t *testing.T) {
	exited := make(chan ID, 1)
	r, err := New(Config{Dir: t.TempDir(), OnExit: func(id ID) { exited <- id }, Logs: LogLimits{MaxSize: 4096, MaxFiles: 3}})
	if err != nil {
		t.Fatal(err)
	}
	id := ID{Pod: "p", Container: "c"}
	mostFiles := watchLogFiles(t, r.LogPath(id))
	script := `i=0; while [ $i -lt 2000 ]; do echo "line $i ......................................................"; i=$((i+1)); done`
	if err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}}); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	files := LogFiles(r.LogPath(id))
	if len(files) != 3 {
		t.Fatalf("log files = %v, want 3", files)
	}
	// Never more than 3, not even while one rotates (the supervisor once
	// opened the new log before it removed the oldest).
	if most, rotations := mostFiles(); most != 3 || rotations < 10 {
		t.Errorf("at most %d log files at once over %d rotations, want 3 over many", most, rotations)
	}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 4096 {
			t.Errorf("%s has %d bytes, past the 4096 cap", f, fi.Size())
		}
		total += fi.Size()
	}
	all := read(t, r.LogPath(id), LogOptions{Tail: -1})
	if !strings.HasSuffix(all, "line 1999 ......................................................\n") || strings.Contains(all, "line 0 ") {
		t.Errorf("log kept %d bytes: %q…%q", len(all), all[:min(80, len(all))], all[max(0, len(all)-80):])
	}
	lines := strings.Count(all, "\n")
	if lines < 2*4096/110 {
		t.Errorf("only %d lines kept of %d bytes", lines, total)
	}
	if got := read(t, r.LogPath(id), LogOptions{Tail: int64(lines)}); got != all {
		t.Errorf("tail %d differs from the whole log", lines)
	}
}

// appendingWriter appends more lines to the log at path on its first
// write, as a container writing fast does while the log is being read.
type appendingWriter struct {
	bytes.Buffer
	path string
	done bool
}

func (w *appendingWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.done = true
		f, err := os.OpenFile(w.path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return 0, err
		}
		for i := range 1000 {
			fmt.Fprintf(f, "2026-11-30T07:00:01.000000001Z stdout F later %d\n", i)
		}
		f.Close()
	}
	return w.Buffer.Write(p)
}

// TestTailEndsWhereTheLogEndedWhenAsked: without Follow, --tail=2 of a log
// still being written is two lines, the last two when the read began (it
// was every line written up to the end of the read: a container writing
// as fast as it could made `kubectl logs --tail=2` print thousands).
func TestTailEndsWhereTheLogEndedWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	writeCRI(t, path, "F one", "F two", "F three")
	rotated := path + ".20261130-070000"
	writeCRI(t, rotated, "F zero")
	for _, c := range []struct {
		tail int64
		want string
	}{{2, "two\nthree\n"}, {-1, "zero\none\ntwo\nthree\n"}, {4, "zero\none\ntwo\nthree\n"}} {
		writeCRI(t, path, "F one", "F two", "F three")
		w := &appendingWriter{path: path}
		if err := ReadLog(context.Background(), path, LogOptions{Tail: c.tail}, w, func() bool { return true }); err != nil {
			t.Fatal(err)
		}
		if got := w.String(); got != c.want {
			t.Errorf("tail %d = %q, want %q", c.tail, got, c.want)
		}
	}
}

// watchLogFiles watches the directory of the log at path (made here) from
// now on; the returned func reads what happened since and tells the most
// files of the log (path and its rotated path.*) there were at once, and
// how many times one was renamed (rotated). From the directory's inotify
// events, in their order: no sampling can miss a moment.
func watchLogFiles(t *testing.T, path string) func() (most, rotations int) {
	t.Helper()
	dir, base := filepath.Dir(path), filepath.Base(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	return func() (most, rotations int) {
		n := 0
		buf := make([]byte, 64<<10)
		for {
			r, err := unix.Read(fd, buf)
			if err == unix.EAGAIN {
				return most, rotations
			}
			if err != nil {
				t.Fatalf("read inotify events: %v", err)
			}
			for off := 0; off+unix.SizeofInotifyEvent <= r; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
				off += unix.SizeofInotifyEvent + int(ev.Len)
				if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
					t.Fatal("inotify queue overflowed")
				}
				if name != base && !strings.HasPrefix(name, base+".") {
					continue
				}
				switch {
				case ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
					n++
				case ev.Mask&unix.IN_DELETE != 0:
					n--
				case ev.Mask&unix.IN_MOVED_FROM != 0:
					n--
					rotations++
				}
				most = max(most, n)
			}
		}
	}
}
