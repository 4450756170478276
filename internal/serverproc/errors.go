package serverproc

import (
	"regexp"
	"strings"
)

// errorLine matches a line of `batchd server`'s log at error level or above:
// klog's E and F lines (E1130 06:41:49.206000 ...), zap's console entries
// (etcd: time, tab, level, tab) and JSON entries (the etcd client), a Go
// panic or fatal error, and the command's own "Error: " exit line.
var errorLine = regexp.MustCompile(`^[EF]\d{4} \d\d:\d\d:\d\d|^\S+\t(error|dpanic|panic|fatal)\t|"level":"(error|dpanic|panic|fatal)"|^panic: |^fatal error: |^Error: `)

// ErrorLines are the lines of log at error level or above.
func ErrorLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if errorLine.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}
