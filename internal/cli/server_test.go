package cli

import "testing"

func TestSteadyGCPercent(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOGC" {
				return v
			}
			return ""
		}
	}
	if p, ok := steadyGCPercent(env("")); !ok || p != 50 {
		t.Errorf("GOGC unset: %d %v, want 50 true", p, ok)
	}
	for _, v := range []string{"100", "off", "200"} {
		if _, ok := steadyGCPercent(env(v)); ok {
			t.Errorf("GOGC=%s: the server overrides it", v)
		}
	}
}
