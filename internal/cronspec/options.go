package cronspec

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Prefix is the one prefix of batchd's CronJob annotations. A real cluster
// ignores them; batchd's controller reads them.
const Prefix = "batchd.dev/"

// Annotation keys of a CronJob.
const (
	// TriggerAnnotation asks for one run now: every new value (a token) fires once.
	TriggerAnnotation = Prefix + "trigger"
	// TriggerHandledAnnotation is the last token the controller handled
	// (written by the controller; a re-applied manifest with the same
	// trigger token does nothing).
	TriggerHandledAnnotation = Prefix + "trigger-handled"
	// JitterAnnotation delays every slot by the same offset in [0, jitter), derived from the UID.
	JitterAnnotation = Prefix + "jitter"
	// CatchUpAnnotation chooses which missed slots run: latest (default), none or all.
	CatchUpAnnotation = Prefix + "catch-up"
	// DSTAnnotation chooses how slots in a daylight-saving change run: kubernetes (default) or once.
	DSTAnnotation = Prefix + "dst"
)

// CatchUp is a catch-up policy: which slots missed while the controller
// was down (or the machine asleep) run once it is back.
type CatchUp string

const (
	// CatchUpLatest runs only the most recent missed slot (upstream's behaviour).
	CatchUpLatest CatchUp = "latest"
	// CatchUpNone runs no missed slot.
	CatchUpNone CatchUp = "none"
	// CatchUpAll runs every missed slot in order, within
	// startingDeadlineSeconds, at most MaxCatchUp of them.
	CatchUpAll CatchUp = "all"
)

// MaxCatchUp is the most missed slots catch-up policy all runs (upstream's
// "too many missed start times" threshold).
const MaxCatchUp = 100

// DST is a daylight-saving policy.
type DST string

const (
	// DSTKubernetes is robfig/cron's (upstream's) behaviour: a slot in the
	// spring-forward gap is skipped, one in the repeated hour runs twice.
	DSTKubernetes DST = "kubernetes"
	// DSTOnce is cronie's: for schedules at fixed times (neither minute nor
	// hour starts with *), a slot in the gap runs right after the jump and
	// one in the repeated hour runs once; other schedules follow the clock
	// as with DSTKubernetes.
	DSTOnce DST = "once"
)

// MaxJitter bounds batchd.dev/jitter.
const MaxJitter = 24 * time.Hour

// Options are a CronJob's extensions, read from its annotations. The zero
// value is upstream's behaviour.
type Options struct {
	Jitter  time.Duration
	CatchUp CatchUp
	DST     DST
}

var annotationsPath = field.NewPath("metadata", "annotations")

// ParseOptions reads the extension annotations. An invalid value is
// reported and read as its default, so a CronJob stored before validation
// knew the key still runs as upstream's would.
func ParseOptions(annotations map[string]string) (Options, field.ErrorList) {
	o := Options{CatchUp: CatchUpLatest, DST: DSTKubernetes}
	var errs field.ErrorList
	if v, ok := annotations[JitterAnnotation]; ok {
		d, err := ParseJitter(v)
		if err != nil {
			errs = append(errs, field.Invalid(annotationsPath.Key(JitterAnnotation), v, err.Error()))
		} else {
			o.Jitter = d
		}
	}
	if v, ok := annotations[CatchUpAnnotation]; ok {
		switch c := CatchUp(v); c {
		case CatchUpLatest, CatchUpNone, CatchUpAll:
			o.CatchUp = c
		default:
			errs = append(errs, field.NotSupported(annotationsPath.Key(CatchUpAnnotation), v, []string{string(CatchUpLatest), string(CatchUpNone), string(CatchUpAll)}))
		}
	}
	if v, ok := annotations[DSTAnnotation]; ok {
		switch d := DST(v); d {
		case DSTKubernetes, DSTOnce:
			o.DST = d
		default:
			errs = append(errs, field.NotSupported(annotationsPath.Key(DSTAnnotation), v, []string{string(DSTKubernetes), string(DSTOnce)}))
		}
	}
	return o, errs
}

// ParseJitter reads a jitter: a Go duration from 0s to 24h.
func ParseJitter(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > MaxJitter {
		return 0, fmt.Errorf("must be a duration from 0s to %s, such as 5m or 90s", "24h")
	}
	return d, nil
}

// ValidateAnnotations checks the extension annotations of a CronJob. On an
// update (old != nil) only values that changed are checked: a stored object
// keeps updating even if an older server accepted a value this one does not.
func ValidateAnnotations(annotations, old map[string]string) field.ErrorList {
	_, errs := ParseOptions(annotations)
	if old == nil {
		return errs
	}
	var changed field.ErrorList
	for _, e := range errs {
		for _, k := range []string{JitterAnnotation, CatchUpAnnotation, DSTAnnotation} {
			if e.Field == annotationsPath.Key(k).String() {
				if v, ok := old[k]; !ok || v != annotations[k] {
					changed = append(changed, e)
				}
			}
		}
	}
	return changed
}

// UnknownAnnotations lists the annotations under Prefix that batchd does not
// read on a CronJob (most likely typos), sorted.
func UnknownAnnotations(annotations map[string]string) []string {
	var out []string
	for k := range annotations {
		if !strings.HasPrefix(k, Prefix) {
			continue
		}
		switch k {
		case TriggerAnnotation, TriggerHandledAnnotation, JitterAnnotation, CatchUpAnnotation, DSTAnnotation:
		default:
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// PendingTrigger is the trigger token the controller has not handled yet, or "".
func PendingTrigger(annotations map[string]string) string {
	t := annotations[TriggerAnnotation]
	if t == "" || t == annotations[TriggerHandledAnnotation] {
		return ""
	}
	return t
}
