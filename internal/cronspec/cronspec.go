// Package cronspec parses CronJob schedules with robfig/cron/v3's standard
// parser (the one upstream's CronJob controller and validation use), guarding
// the one input class on which that parser panics instead of failing.
//
// It is also the one place of a CronJob's schedule arithmetic beyond
// robfig/cron, shared by the controller, the NEXT SCHEDULE column and
// `batchd cron next` so that they cannot disagree: the batchd.dev/
// annotations (options.go), the DST policy and jitter offset (schedule.go),
// and the preview with its DST notes (preview.go).
package cronspec

import (
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
)

// ParseStandard is cron.ParseStandard, except that a "TZ=" or "CRON_TZ="
// prefix with nothing after it (no space) is an error: robfig/cron v3.0.1
// slices spec[eq+1:-1] there and panics (robfig/cron#470, #554). Upstream's
// validation calls the parser unguarded, so kube-apiserver answers such a
// schedule with a recovered panic (500); we answer with a field error.
func ParseStandard(spec string) (cron.Schedule, error) {
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		return nil, fmt.Errorf("expected fields after the time zone, found none: %q", spec)
	}
	return cron.ParseStandard(spec)
}
