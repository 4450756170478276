package node

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Redaction is a value a container got from a Secret. Such values are kept
// out of what the node agent reports (container status messages and events
// readable by users who may not read the Secret): a command or subPathExpr
// built from one would otherwise be quoted back in an error message
// (`exec: "<value>": executable file not found in $PATH`).
type Redaction struct {
	Value, Secret, Key string
}

// minRedactedSubstring is the shortest value replaced wherever it appears
// in a message; shorter ones are replaced where a message quotes them
// whole, so that a one-letter secret does not garble every message.
const minRedactedSubstring = 4

// Redact replaces the Secret values in msg with `<redacted: from secret
// NAME key KEY>`.
func Redact(msg string, rs []Redaction) string {
	if len(rs) == 0 || msg == "" {
		return msg
	}
	sorted := append([]Redaction(nil), rs...)
	// Longer values first: one may contain another.
	sort.SliceStable(sorted, func(i, j int) bool { return len(sorted[i].Value) > len(sorted[j].Value) })
	for _, r := range sorted {
		if r.Value == "" {
			continue
		}
		mark := fmt.Sprintf("<redacted: from secret %s key %s>", r.Secret, r.Key)
		if len(r.Value) >= minRedactedSubstring {
			msg = strings.ReplaceAll(msg, r.Value, mark)
			continue
		}
		for _, q := range []string{`"`, "`", "'"} {
			msg = strings.ReplaceAll(msg, q+r.Value+q, q+mark+q)
		}
	}
	return msg
}

// redactError is err with the Secret values out of its message; a
// *ConfigError stays one.
func redactError(err error, rs []Redaction) error {
	if err == nil || len(rs) == 0 {
		return err
	}
	var cfg *ConfigError
	if errors.As(err, &cfg) {
		if m := Redact(cfg.Message, rs); m != cfg.Message {
			return &ConfigError{Message: m}
		}
		return err
	}
	if m := Redact(err.Error(), rs); m != err.Error() {
		return errors.New(m)
	}
	return err
}
