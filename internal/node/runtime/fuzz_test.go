package runtime

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzReadLog: a log file of any content read with any options ends, does
// not panic, and honours limitBytes.
func FuzzReadLog(f *testing.F) {
	f.Add([]byte("2026-11-23T10:00:00.000000001Z stdout F hello\n2026-11-23T10:00:01Z stderr P part\n2026-11-23T10:00:01Z stderr F ial\n"), int64(-1), int64(0), int64(0), true)
	f.Add([]byte("not a cri line\n\n \n2026-11-23T10:00:00Z stdout\n"), int64(1), int64(3), int64(5), false)
	f.Add([]byte("2026-11-23T10:00:00Z stdout F no newline at end"), int64(0), int64(1), int64(-10), true)
	f.Fuzz(func(t *testing.T, content []byte, tail, limit, sinceSeconds int64, timestamps bool) {
		path := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if limit < 0 {
			limit = 0
		}
		opts := LogOptions{Tail: tail, LimitBytes: limit, Timestamps: timestamps}
		if sinceSeconds != 0 {
			opts.Since = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Add(time.Duration(sinceSeconds%100000) * time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var out bytes.Buffer
		if err := ReadLog(ctx, path, opts, &out, func() bool { return false }); err != nil && ctx.Err() != nil {
			t.Fatalf("ReadLog did not end: %v", err)
		}
		if limit > 0 && int64(out.Len()) > limit {
			t.Errorf("wrote %d bytes with limitBytes %d", out.Len(), limit)
		}
	})
}

// FuzzParseCRI: any line parses or is refused without panicking.
func FuzzParseCRI(f *testing.F) {
	f.Add([]byte("2026-11-23T10:00:00.123456789Z stdout F hello world"))
	f.Add([]byte("2026-11-23T10:00:00Z stderr P"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if e, ok := parseCRI(line); ok && e.time.IsZero() && !bytes.HasPrefix(line, []byte("0001-01-01")) {
			t.Errorf("parsed %q with a zero time", line)
		}
	})
}
