package cronspec

import "testing"

func TestParseStandard(t *testing.T) {
	for _, tc := range []struct {
		spec string
		ok   bool
	}{
		{"* * * * *", true},
		{"@hourly", true},
		{"TZ=UTC 0 0 * * *", true},
		{"CRON_TZ=Asia/Seoul 0 9 * * *", true},
		{"TZ=", false},
		{"TZ=UTC", false},
		{"CRON_TZ=", false},
		{"CRON_TZ=America/New_York", false},
		{"TZ=TZ=TZ=", false},
		{"TZ=UTC ", false}, // robfig's own error: no fields
		{"", false},
	} {
		_, err := ParseStandard(tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("ParseStandard(%q) error = %v, want ok=%v", tc.spec, err, tc.ok)
		}
	}
}

// FuzzParseStandard: no schedule string panics the parser.
func FuzzParseStandard(f *testing.F) {
	for _, s := range []string{"* * * * *", "TZ=", "CRON_TZ=UTC 0 0 * * *", "@every 1m", "TZ=UTC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		_, _ = ParseStandard(spec)
	})
}
