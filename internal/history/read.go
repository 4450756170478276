package history

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"time"
)

// ReadOptions select what ReadLog writes.
type ReadOptions struct {
	// Tail is the number of lines from the end to write; negative: all.
	Tail int64
	// Timestamps prefixes each line with its RFC3339Nano time.
	Timestamps bool
}

// ReadLog writes the CRI-format log at path (`<RFC3339Nano> <stream> <P|F>
// <content>` per entry, as the node runtime writes it) to w as kubectl logs
// shows a container's log: the contents, partial entries joined.
func ReadLog(path string, opts ReadOptions, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var lines [][]byte // with Tail: the last Tail logical lines
	var cur []byte
	lineStart := true
	r := bufio.NewReaderSize(f, 64*1024)
	for {
		chunk, err := r.ReadBytes('\n')
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			if t, partial, content, ok := parseCRI(chunk[:len(chunk)-1]); ok {
				if opts.Timestamps && lineStart {
					cur = append(cur, t.Format(time.RFC3339Nano)+" "...)
				}
				cur = append(cur, content...)
				lineStart = !partial
				if !partial {
					cur = append(cur, '\n')
					if opts.Tail < 0 {
						if _, werr := w.Write(cur); werr != nil {
							return werr
						}
					} else if opts.Tail > 0 {
						lines = append(lines, cur)
						if int64(len(lines)) > opts.Tail {
							lines = lines[1:]
						}
					}
					cur = nil
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	for _, l := range lines {
		if _, err := w.Write(l); err != nil {
			return err
		}
	}
	if len(cur) > 0 && opts.Tail != 0 {
		_, err = w.Write(cur) // an unterminated last line
	}
	return err
}

func parseCRI(line []byte) (t time.Time, partial bool, content []byte, ok bool) {
	f := bytes.SplitN(line, []byte{' '}, 4)
	if len(f) < 3 {
		return t, false, nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return t, false, nil, false
	}
	if len(f) == 4 {
		content = f[3]
	}
	return t, string(f[2]) == "P", content, true
}
