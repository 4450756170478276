package node

import (
	"strings"
	"testing"
)

// FuzzExpand: $(VAR) expansion never panics, leaves text without `$` alone,
// and never produces a value it was not given (an unknown or malformed
// reference stays as written).
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$(A)", "$$(A)", "$(A", "$()", "a$(B)c$(Z)", "$", "$$$", "$(A)$(A)", "--shard-index $(JOB_COMPLETION_INDEX)"} {
		f.Add(s)
	}
	vars := map[string]string{"A": "alpha", "B": "$(A)", "JOB_COMPLETION_INDEX": "7"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	f.Fuzz(func(t *testing.T, s string) {
		got := Expand(s, lookup)
		if !strings.Contains(s, "$") && got != s {
			t.Errorf("Expand(%q) = %q, want it unchanged", s, got)
		}
		if !strings.Contains(s, "$(") && !strings.Contains(s, "$$") && got != s {
			t.Errorf("Expand(%q) = %q without a reference or escape", s, got)
		}
		// Expansion is one pass: B's value "$(A)" is not expanded again.
		if s == "$(B)" && got != "$(A)" {
			t.Errorf("Expand($(B)) = %q", got)
		}
	})
}
