// Package validationtest checks validation results against upstream's messages.
package validationtest

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Expect fails t unless errs is empty when want is, and otherwise contains
// every wanted message (field path and text, as kubectl prints them).
func Expect(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	got := ""
	if agg := errs.ToAggregate(); agg != nil {
		got = agg.Error()
	}
	if len(want) == 0 && got != "" {
		t.Fatalf("unexpected errors: %s", got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}
