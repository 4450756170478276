package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// LogOptions select what ReadLog writes.
type LogOptions struct {
	Follow     bool
	Tail       int64 // lines from the end; negative: all
	Since      time.Time
	Timestamps bool
	LimitBytes int64 // 0: no limit
}

// logEntry is one line of a CRI log file.
type logEntry struct {
	time    time.Time
	stream  string
	partial bool
	content []byte
}

// parseCRI parses `<RFC3339Nano> <stream> <P|F> <content>`, without
// allocating for the lines the supervisor writes (logs are read line by
// line, gigabytes of them for a --since-time).
func parseCRI(line []byte) (logEntry, bool) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return logEntry{}, false
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	var stream, tag, content []byte
	if sp2 < 0 {
		return logEntry{}, false
	}
	stream, rest = rest[:sp2], rest[sp2+1:]
	if sp3 := bytes.IndexByte(rest, ' '); sp3 >= 0 {
		tag, content = rest[:sp3], rest[sp3+1:]
	} else {
		tag = rest
	}
	t, ok := parseTimestamp(line[:sp1])
	if !ok {
		return logEntry{}, false
	}
	e := logEntry{time: t, partial: string(tag) == "P", content: content}
	switch string(stream) {
	case "stdout":
		e.stream = "stdout"
	case "stderr":
		e.stream = "stderr"
	default:
		e.stream = string(stream)
	}
	return e, true
}

// parseTimestamp reads the supervisor's fixed form
// 2006-01-02T15:04:05.000000000Z directly, anything else with time.Parse.
func parseTimestamp(b []byte) (time.Time, bool) {
	if len(b) == 30 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[19] == '.' && b[29] == 'Z' {
		num := func(from, to int) (int, bool) {
			n := 0
			for _, c := range b[from:to] {
				if c < '0' || c > '9' {
					return 0, false
				}
				n = n*10 + int(c-'0')
			}
			return n, true
		}
		y, ok1 := num(0, 4)
		mo, ok2 := num(5, 7)
		d, ok3 := num(8, 10)
		h, ok4 := num(11, 13)
		mi, ok5 := num(14, 16)
		sec, ok6 := num(17, 19)
		ns, ok7 := num(20, 29)
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && sec < 60 {
			t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC)
			if t.Day() == d { // not 31 February
				return t, true
			}
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	return t, err == nil
}

// maxLine caps the bytes kept of one log line: the supervisor writes lines
// of at most 16 KiB plus a header; a longer one (a damaged file) is skipped,
// never held in memory whole.
const maxLine = 1 << 20

// chunkSize is how much of a log file is read at once, forwards or back.
const chunkSize = 64 << 10

// LogFiles are the files of the log at path, oldest first: the rotated ones
// (path.<timestamp>, named so that they sort by age) and path itself.
func LogFiles(path string) []string {
	dir, base := filepath.Split(path)
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), base+".") && !e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return append(out, path)
}

// ReadLog writes the log at path (with its rotated files before it) to w
// as kubectl logs shows it. With Follow it keeps reading while running
// reports true, across rotations. Memory stays bounded whatever the size of
// the files: --tail is found by reading back from the end in chunks.
func ReadLog(ctx context.Context, path string, opts LogOptions, w io.Writer, running func() bool) error {
	files := LogFiles(path)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && len(files) == 1 {
		if !opts.Follow {
			return nil
		}
		// The supervisor creates the file when the container starts.
		for errors.Is(err, os.ErrNotExist) && running() {
			if !sleepCtx(ctx, 50*time.Millisecond) {
				return nil
			}
			_, err = os.Stat(path)
		}
		if err != nil {
			return nil
		}
	}
	// The current file is opened first: what it holds now is the end of a
	// read without Follow (a container writing fast adds lines while the
	// earlier files are read; a rotation meanwhile renames it, the open file
	// stays the same), and --tail counts back from there.
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		f = nil
	} else if err != nil {
		return err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var size int64
	if f != nil {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		size = fi.Size()
	}
	first, offset := 0, int64(0)
	if opts.Tail >= 0 {
		if first, offset, err = tailStart(files, f, size, opts.Tail); err != nil {
			return err
		}
	}
	lr := &logReader{opts: opts, out: &limitWriter{w: w, left: opts.LimitBytes}, lineStart: true}
	// Rotated files: whole, from the tail's start on.
	for i := first; i < len(files)-1; i++ {
		g, err := os.Open(files[i])
		if errors.Is(err, os.ErrNotExist) {
			continue // removed as the oldest meanwhile
		}
		if err != nil {
			return err
		}
		start := int64(0)
		if i == first {
			start = offset
		}
		done, err := lr.copyFile(g, start)
		g.Close()
		if err != nil || done {
			return err
		}
	}
	if f == nil {
		return nil
	}
	start := int64(0)
	if first == len(files)-1 {
		start = offset
	}
	if !opts.Follow {
		_, err := lr.copyFrom(io.NewSectionReader(f, start, size-start))
		return err
	}
	for {
		done, err := lr.copyFile(f, start)
		if err != nil || done || !opts.Follow {
			return err
		}
		start = -1 // go on where it stopped
		if rotated(f, path) {
			// The supervisor renamed this file and opened a new one: what it
			// wrote before is read, then the files rotated since, then the new one.
			if done, err := lr.copyFile(f, -1); err != nil || done {
				return err
			}
			for _, name := range newerRotated(f, path) {
				g, err := os.Open(name)
				if err != nil {
					continue
				}
				done, err := lr.copyFile(g, 0)
				g.Close()
				if err != nil || done {
					return err
				}
			}
			g, err := os.Open(path)
			if err != nil {
				return nil
			}
			f.Close()
			f, start = g, 0
			lr.pending, lr.overlong = nil, false
			continue
		}
		if !running() {
			// One more pass picks up what was written before the end.
			done, err := lr.copyFile(f, -1)
			if err != nil || done {
				return err
			}
			return nil
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return nil
		}
	}
}

// rotated tells whether path no longer names the open file f.
func rotated(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && !os.SameFile(a, b)
}

// newerRotated are the rotated files of path after f, which was rotated.
func newerRotated(f *os.File, path string) []string {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	files := LogFiles(path)
	for i, name := range files[:len(files)-1] {
		if other, err := os.Stat(name); err == nil && os.SameFile(fi, other) {
			return files[i+1 : len(files)-1]
		}
	}
	return nil
}

// logReader turns CRI log lines into kubectl's output.
type logReader struct {
	opts      LogOptions
	out       *limitWriter
	pending   []byte // an unterminated line still being written
	overlong  bool   // the line being read is past maxLine: skipped
	lineStart bool   // the next entry begins a logical line
}

// copyFile writes the entries of f from offset start (-1: where f is) up
// to its end; done is true once the limit is reached.
func (lr *logReader) copyFile(f *os.File, start int64) (done bool, err error) {
	if start >= 0 {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return false, err
		}
		lr.pending, lr.overlong = nil, false
	}
	return lr.copyFrom(f)
}

// copyFrom writes the entries read from r to its end.
func (lr *logReader) copyFrom(src io.Reader) (done bool, err error) {
	r := bufio.NewReaderSize(src, chunkSize)
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			line := chunk[:len(chunk)-1]
			if len(lr.pending) > 0 {
				line = append(lr.pending, line...)
			}
			if !lr.overlong {
				lr.entry(line)
			}
			lr.pending, lr.overlong = lr.pending[:0], false
			if lr.out.full() {
				return true, nil
			}
			continue
		}
		if len(lr.pending)+len(chunk) > maxLine {
			lr.overlong, lr.pending = true, lr.pending[:0]
		} else if !lr.overlong {
			lr.pending = append(lr.pending, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		// At the end: what was read of an unfinished line stays pending;
		// the file position is past it, so reading on continues the line.
		return false, nil
	}
}

func (lr *logReader) entry(line []byte) {
	e, ok := parseCRI(line)
	if !ok || e.time.Before(lr.opts.Since) {
		return
	}
	if lr.opts.Timestamps && lr.lineStart {
		lr.out.Write([]byte(e.time.Format(time.RFC3339Nano) + " "))
	}
	lr.out.Write(e.content)
	if !e.partial {
		lr.out.Write([]byte{'\n'})
	}
	lr.lineStart = !e.partial
}

// headSize is how much of a line's beginning tailStart parses: its time,
// stream and tag, never its content.
const headSize = 128

// tailStart is where the last n logical lines of files begin: the index of
// the file and the offset in it. It reads back from the end in chunks of
// chunkSize, whatever the size of the files.
func tailStart(files []string, last *os.File, lastSize int64, n int64) (int, int64, error) {
	if n == 0 {
		return len(files) - 1, lastSize, nil
	}
	var count int64
	buf := make([]byte, chunkSize)
	for i := len(files) - 1; i >= 0; i-- {
		f, size := last, lastSize
		if i < len(files)-1 {
			var err error
			f, err = os.Open(files[i])
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return 0, 0, err
			}
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return 0, 0, err
			}
			size = fi.Size()
		} else if f == nil {
			continue
		}
		found := int64(-1)
		err := scanBack(f, size, buf, func(end int64, head []byte) bool {
			// A logical line ends with an F entry.
			if e, ok := parseCRI(head); ok && !e.partial {
				if count == n {
					found = end + 1
					return false
				}
				count++
			}
			return true
		})
		if f != last {
			f.Close()
		}
		if err != nil {
			return 0, 0, err
		}
		if found >= 0 {
			return i, found, nil
		}
	}
	return 0, 0, nil
}

// scanBack calls fn for each complete line of f before size, last first,
// with the offset of its '\n' and its first headSize bytes, until fn
// returns false.
func scanBack(f *os.File, size int64, buf []byte, fn func(end int64, head []byte) bool) error {
	chunkStart, chunkLen := size, 0  // buf holds f[chunkStart : chunkStart+chunkLen]
	load := func(upTo int64) error { // load the chunk ending at upTo (exclusive)
		chunkStart = max(0, upTo-int64(len(buf)))
		chunkLen = int(upTo - chunkStart)
		_, err := f.ReadAt(buf[:chunkLen], chunkStart)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return err
	}
	// prevNewline is the offset of the last '\n' before pos, or -1.
	prevNewline := func(pos int64) (int64, error) {
		for pos > 0 {
			if pos <= chunkStart || pos > chunkStart+int64(chunkLen) {
				if err := load(pos); err != nil {
					return 0, err
				}
			}
			if i := bytes.LastIndexByte(buf[:pos-chunkStart], '\n'); i >= 0 {
				return chunkStart + int64(i), nil
			}
			pos = chunkStart
		}
		return -1, nil
	}
	// The last line without its '\n' is still being written: left out.
	end, err := prevNewline(size)
	if err != nil {
		return err
	}
	head := make([]byte, headSize)
	for end >= 0 {
		start, err := prevNewline(end)
		if err != nil {
			return err
		}
		lineStart := start + 1
		h := min(int64(headSize), end-lineStart)
		var hb []byte
		if lineStart >= chunkStart && lineStart+h <= chunkStart+int64(chunkLen) {
			hb = buf[lineStart-chunkStart : lineStart-chunkStart+h]
		} else {
			n, err := f.ReadAt(head[:h], lineStart)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			hb = head[:n]
		}
		if !fn(end, hb) {
			return nil
		}
		end = start
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type limitWriter struct {
	w    io.Writer
	left int64
	done bool
}

func (l *limitWriter) Write(p []byte) {
	if l.done {
		return
	}
	if l.left > 0 {
		if int64(len(p)) >= l.left {
			p = p[:l.left]
			l.done = true
		}
		l.left -= int64(len(p))
	}
	if _, err := l.w.Write(p); err != nil {
		l.done = true
	}
}

func (l *limitWriter) full() bool { return l.done }
