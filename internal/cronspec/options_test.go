package cronspec

import (
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	o, errs := ParseOptions(nil)
	if len(errs) != 0 || o != (Options{CatchUp: CatchUpLatest, DST: DSTKubernetes}) {
		t.Fatalf("defaults = %+v %v", o, errs)
	}
	o, errs = ParseOptions(map[string]string{JitterAnnotation: "5m", CatchUpAnnotation: "all", DSTAnnotation: "once"})
	if len(errs) != 0 || o != (Options{Jitter: 5 * time.Minute, CatchUp: CatchUpAll, DST: DSTOnce}) {
		t.Fatalf("options = %+v %v", o, errs)
	}
	o, errs = ParseOptions(map[string]string{JitterAnnotation: "soon", CatchUpAnnotation: "some", DSTAnnotation: "twice"})
	want := []string{
		`metadata.annotations[batchd.dev/jitter]: Invalid value: "soon": must be a duration from 0s to 24h, such as 5m or 90s`,
		`metadata.annotations[batchd.dev/catch-up]: Unsupported value: "some": supported values: "latest", "none", "all"`,
		`metadata.annotations[batchd.dev/dst]: Unsupported value: "twice": supported values: "kubernetes", "once"`,
	}
	if len(errs) != 3 {
		t.Fatalf("errors = %v", errs)
	}
	for i, e := range errs {
		if e.Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, e.Error(), want[i])
		}
	}
	if o != (Options{CatchUp: CatchUpLatest, DST: DSTKubernetes}) {
		t.Errorf("invalid values must read as the defaults: %+v", o)
	}
	for _, bad := range []string{"-1s", "25h", "5", ""} {
		if _, err := ParseJitter(bad); err == nil {
			t.Errorf("jitter %q accepted", bad)
		}
	}
}

// An update checks only the values it changes: a stored object keeps updating.
func TestValidateAnnotationsOnUpdate(t *testing.T) {
	old := map[string]string{JitterAnnotation: "5 minutes"}
	if errs := ValidateAnnotations(map[string]string{JitterAnnotation: "5 minutes", "team": "a"}, old); len(errs) != 0 {
		t.Errorf("unchanged invalid value refused: %v", errs)
	}
	if errs := ValidateAnnotations(map[string]string{JitterAnnotation: "6 minutes"}, old); len(errs) != 1 {
		t.Errorf("changed invalid value accepted: %v", errs)
	}
	if errs := ValidateAnnotations(map[string]string{DSTAnnotation: "never"}, old); len(errs) != 1 || !strings.Contains(errs[0].Error(), "batchd.dev/dst") {
		t.Errorf("new invalid value: %v", errs)
	}
}

func TestPendingTriggerAndUnknown(t *testing.T) {
	for _, tc := range []struct {
		ann  map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{TriggerAnnotation: "a"}, "a"},
		{map[string]string{TriggerAnnotation: "a", TriggerHandledAnnotation: "a"}, ""},
		{map[string]string{TriggerAnnotation: "b", TriggerHandledAnnotation: "a"}, "b"},
		{map[string]string{TriggerAnnotation: "", TriggerHandledAnnotation: "a"}, ""},
	} {
		if got := PendingTrigger(tc.ann); got != tc.want {
			t.Errorf("PendingTrigger(%v) = %q", tc.ann, got)
		}
	}
	got := UnknownAnnotations(map[string]string{"batchd.dev/jiter": "5m", JitterAnnotation: "5m", "batchd.dev/catchup": "all", "other/x": "y"})
	if strings.Join(got, ",") != "batchd.dev/catch-up,batchd.dev/jiter" && strings.Join(got, ",") != "batchd.dev/catchup,batchd.dev/jiter" {
		t.Errorf("unknown = %v", got)
	}
}
