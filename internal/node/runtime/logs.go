package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
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

// parseCRI parses `<RFC3339Nano> <stream> <P|F> <content>`.
func parseCRI(line []byte) (logEntry, bool) {
	f := bytes.SplitN(line, []byte{' '}, 4)
	if len(f) < 3 {
		return logEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return logEntry{}, false
	}
	e := logEntry{time: t, stream: string(f[1]), partial: string(f[2]) == "P"}
	if len(f) == 4 {
		e.content = f[3]
	}
	return e, true
}

// ReadLog writes the log at path to w as kubectl logs shows it. With Follow it
// keeps reading while running reports true.
func ReadLog(ctx context.Context, path string, opts LogOptions, w io.Writer, running func() bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if !opts.Follow {
			return nil
		}
		// The supervisor creates the file when the container starts.
		for errors.Is(err, os.ErrNotExist) && running() {
			if !sleepCtx(ctx, 50*time.Millisecond) {
				return nil
			}
			f, err = os.Open(path)
		}
		if err != nil {
			return nil
		}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	out := &limitWriter{w: w, left: opts.LimitBytes}
	var start int64
	if opts.Tail >= 0 {
		start, err = tailOffset(f, opts.Tail)
		if err != nil {
			return err
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 64*1024)
	var pending []byte // an unterminated line still being written
	lineStart := true  // the next entry begins a logical line
	for {
		chunk, err := r.ReadBytes('\n')
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			line := append(pending, chunk[:len(chunk)-1]...)
			pending = nil
			if e, ok := parseCRI(line); ok && !e.time.Before(opts.Since) {
				if opts.Timestamps && lineStart {
					out.Write([]byte(e.time.Format(time.RFC3339Nano) + " "))
				}
				out.Write(e.content)
				if !e.partial {
					out.Write([]byte{'\n'})
				}
				lineStart = !e.partial
			}
			if out.full() {
				return nil
			}
			continue
		}
		pending = append(pending, chunk...)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if !opts.Follow {
			return nil
		}
		if !running() {
			// One more pass picks up what was written before the end.
			if b, _ := io.ReadAll(r); len(b) > 0 {
				r = bufio.NewReader(io.MultiReader(bytes.NewReader(b), r))
				continue
			}
			return nil
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return nil
		}
	}
}

// tailOffset is the file offset where the last n logical lines begin.
func tailOffset(f *os.File, n int64) (int64, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return int64(len(data)), nil
	}
	// Walk back over complete lines; a logical line ends with an F entry.
	end := len(data)
	if end > 0 && data[end-1] != '\n' {
		end = bytes.LastIndexByte(data, '\n') + 1
	}
	var count int64
	pos := end
	for pos > 0 {
		prev := bytes.LastIndexByte(data[:pos-1], '\n') + 1
		if e, ok := parseCRI(data[prev : pos-1]); ok && !e.partial {
			if count == n {
				return int64(pos), nil
			}
			count++
		}
		pos = prev
	}
	return 0, nil
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
