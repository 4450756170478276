package cronjob

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // timeZone must validate the same on every host

	"github.com/batchd/batchd/internal/cronspec"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/registry/job"
	"github.com/batchd/batchd/internal/apiserver/validation"
)

// Resource describes batch/v1 cronjobs.
func Resource() registry.Resource {
	return registry.Resource{
		Resource:   batchv1.Resource("cronjobs"),
		Singular:   "cronjob",
		Namespaced: true,
		New:        func() runtime.Object { return &batchv1.CronJob{} },
		NewList:    func() runtime.Object { return &batchv1.CronJobList{} },
		Default:    func(obj runtime.Object) { SetDefaults(obj.(*batchv1.CronJob)) },
		ShortNames: []string{"cj"},
		Categories: []string{"all"},
		Table:      Table(),
		Funcs: registry.Funcs{
			Spec:           func(obj runtime.Object) any { return &obj.(*batchv1.CronJob).Spec },
			Status:         func(obj runtime.Object) any { return &obj.(*batchv1.CronJob).Status },
			BumpGeneration: true,
			Validate:       func(obj runtime.Object) field.ErrorList { return Validate(obj.(*batchv1.CronJob)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return ValidateUpdate(obj.(*batchv1.CronJob), old.(*batchv1.CronJob))
			},
			ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
				c, o := obj.(*batchv1.CronJob), old.(*batchv1.CronJob)
				return validation.ObjectMetaUpdate(&c.ObjectMeta, &o.ObjectMeta)
			},
			WarningsOnCreate: func(obj runtime.Object) []string { return warnings(obj.(*batchv1.CronJob)) },
			WarningsOnUpdate: func(obj, old runtime.Object) []string {
				c := obj.(*batchv1.CronJob)
				w := warnings(c)
				if strings.Contains(c.Spec.Schedule, "TZ") {
					w = append(w, "cannot use TZ or CRON_TZ in spec.spec.schedule, use timeZone instead, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details")
				}
				return w
			},
		},
	}
}

// SetDefaults applies upstream's SetDefaults_CronJob plus the type-level
// defaults of the job template (the Job defaults themselves are applied when a
// Job is created from it).
func SetDefaults(c *batchv1.CronJob) {
	if c.Spec.ConcurrencyPolicy == "" {
		c.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if c.Spec.Suspend == nil {
		c.Spec.Suspend = ptr.To(false)
	}
	if c.Spec.SuccessfulJobsHistoryLimit == nil {
		c.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
	}
	if c.Spec.FailedJobsHistoryLimit == nil {
		c.Spec.FailedJobsHistoryLimit = ptr.To[int32](1)
	}
	js := &c.Spec.JobTemplate.Spec
	job.SetTemplateDefaults(&js.Template, js.PodFailurePolicy)
}

func warnings(c *batchv1.CronJob) []string {
	var w []string
	if msgs := validation.DNSLabel(c.Name, false); len(msgs) > 0 {
		w = append(w, fmt.Sprintf("metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: %v", msgs))
	}
	return append(w, extensionWarnings(c)...)
}

// extensionWarnings flags batchd.dev/ annotations that do not do what their
// writer likely meant: unknown keys (typos), and a jitter longer than the
// starting deadline (which counts from the slot, so a late offset misses
// every run).
func extensionWarnings(c *batchv1.CronJob) []string {
	var w []string
	for _, k := range cronspec.UnknownAnnotations(c.Annotations) {
		w = append(w, fmt.Sprintf("metadata.annotations[%s]: not an annotation batchd reads on a CronJob (%s, %s, %s, %s)", k,
			cronspec.TriggerAnnotation, cronspec.JitterAnnotation, cronspec.CatchUpAnnotation, cronspec.DSTAnnotation))
	}
	opts, _ := cronspec.ParseOptions(c.Annotations)
	if d := c.Spec.StartingDeadlineSeconds; d != nil && opts.Jitter > time.Duration(*d)*time.Second {
		w = append(w, fmt.Sprintf("metadata.annotations[%s]: %s is longer than spec.startingDeadlineSeconds (%d), which counts from the slot: a CronJob whose offset passes the deadline misses every run",
			cronspec.JitterAnnotation, opts.Jitter, *d))
	}
	return w
}

// maxNameLength leaves room for the "-<unix minutes>" suffix of Job names.
const maxNameLength = 52

// Validate checks a new CronJob.
func Validate(c *batchv1.CronJob) field.ErrorList {
	errs := validation.ObjectMeta(&c.ObjectMeta, true, validation.DNSSubdomain)
	if len(c.Name) > maxNameLength {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), c.Name, fmt.Sprintf("must be no more than %d characters", maxNameLength)))
	}
	errs = append(errs, cronspec.ValidateAnnotations(c.Annotations, nil)...)
	errs = append(errs, validateSpec(&c.Spec, nil, field.NewPath("spec"))...)
	return errs
}

// ValidateUpdate checks a CronJob update; its spec is fully mutable.
func ValidateUpdate(c, old *batchv1.CronJob) field.ErrorList {
	errs := validation.ObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, cronspec.ValidateAnnotations(c.Annotations, old.Annotations)...)
	return append(errs, validateSpec(&c.Spec, &old.Spec, field.NewPath("spec"))...)
}

func validateSpec(s, old *batchv1.CronJobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Schedule == "" {
		errs = append(errs, field.Required(p.Child("schedule"), ""))
	} else {
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		errs = append(errs, validateSchedule(s.Schedule, allowTZ, s.TimeZone, p.Child("schedule"))...)
	}
	if old == nil || !ptr.Equal(s.TimeZone, old.TimeZone) {
		errs = append(errs, ValidateTimeZone(s.TimeZone, p.Child("timeZone"))...)
	}
	errs = append(errs, validation.NonNegative64(s.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	switch s.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(p.Child("concurrencyPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("concurrencyPolicy"), s.ConcurrencyPolicy, []string{"Allow", "Forbid", "Replace"}))
	}
	errs = append(errs, validation.NonNegative32(s.SuccessfulJobsHistoryLimit, p.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, validation.NonNegative32(s.FailedJobsHistoryLimit, p.Child("failedJobsHistoryLimit"))...)
	errs = append(errs, validateJobTemplate(&s.JobTemplate, p.Child("jobTemplate"))...)
	return errs
}

// ValidateSchedule checks a new CronJob's schedule and timeZone as the API
// does (for a preview that must refuse what the API refuses, in its words).
func ValidateSchedule(schedule string, tz *string) field.ErrorList {
	p := field.NewPath("spec")
	if schedule == "" {
		return field.ErrorList{field.Required(p.Child("schedule"), "")}
	}
	errs := validateSchedule(schedule, false, tz, p.Child("schedule"))
	return append(errs, ValidateTimeZone(tz, p.Child("timeZone"))...)
}

func validateSchedule(schedule string, allowTZ bool, tz *string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := cronspec.ParseStandard(schedule); err != nil {
		errs = append(errs, field.Invalid(p, schedule, err.Error()))
	}
	if strings.Contains(schedule, "TZ") {
		switch {
		case tz != nil:
			errs = append(errs, field.Invalid(p, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		case !allowTZ:
			errs = append(errs, field.Invalid(p, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	return errs
}

// ValidateTimeZone applies upstream's timeZone rules.
func ValidateTimeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(p, *tz, "timeZone must be nil or non-empty string")}
	}
	if strings.EqualFold(*tz, "Local") {
		return field.ErrorList{field.Invalid(p, *tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTZPart(part) {
			return field.ErrorList{field.Invalid(p, *tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		return field.ErrorList{field.Invalid(p, *tz, err.Error())}
	}
	return nil
}

func validTZPart(s string) bool {
	if len(s) < 1 || len(s) > 14 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_+", r)
		if !ok {
			return false
		}
	}
	return true
}

func validateJobTemplate(t *batchv1.JobTemplateSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validation.Labels(t.Labels, p.Child("metadata", "labels"))...)
	errs = append(errs, validation.Annotations(t.Annotations, p.Child("metadata", "annotations"))...)
	sp := p.Child("spec")
	if t.Spec.Selector != nil {
		errs = append(errs, field.Invalid(sp.Child("selector"), t.Spec.Selector, "`selector` will be auto-generated"))
	}
	if t.Spec.ManualSelector != nil && *t.Spec.ManualSelector {
		errs = append(errs, field.NotSupported(sp.Child("manualSelector"), t.Spec.ManualSelector, []string{"nil", "false"}))
	}
	return append(errs, job.ValidateSpec(&t.Spec, sp, false)...)
}

// Table returns the `kubectl get cronjobs` columns.
func Table() *registry.Table {
	return &registry.Table{
		Columns: []metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Schedule", "string", "", batchv1.CronJobSpec{}.SwaggerDoc()["schedule"], false),
			registry.Column("Timezone", "string", "", batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"], false),
			registry.Column("Suspend", "boolean", "", batchv1.CronJobSpec{}.SwaggerDoc()["suspend"], false),
			registry.Column("Active", "integer", "", batchv1.CronJobStatus{}.SwaggerDoc()["active"], false),
			registry.Column("Last Schedule", "string", "", batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"], false),
			registry.Column("Next Schedule", "string", "", nextScheduleDoc, false),
			registry.Column("Next Schedule Time", "string", "", nextScheduleDoc+" (RFC 3339, in the CronJob's time zone)", true),
			registry.AgeColumn(),
			registry.Column("Containers", "string", "", "Names of each container in the template.", true),
			registry.Column("Images", "string", "", "Images referenced by each container in the template.", true),
			registry.Column("Selector", "string", "", batchv1.JobSpec{}.SwaggerDoc()["selector"], true),
		},
		Row: func(obj runtime.Object, now time.Time) ([]any, error) {
			c, ok := obj.(*batchv1.CronJob)
			if !ok {
				return nil, fmt.Errorf("unexpected %T", obj)
			}
			tz := "<none>"
			if c.Spec.TimeZone != nil {
				tz = *c.Spec.TimeZone
			}
			suspend := "<unset>"
			if c.Spec.Suspend != nil {
				suspend = fmt.Sprintf("%t", *c.Spec.Suspend)
				suspend = strings.ToUpper(suspend[:1]) + suspend[1:]
			}
			last := "<none>"
			if c.Status.LastScheduleTime != nil {
				last = registry.Age(*c.Status.LastScheduleTime, now)
			}
			names, images := job.ContainersAndImages(c.Spec.JobTemplate.Spec.Template.Spec.Containers)
			sel := "<none>"
			if c.Spec.JobTemplate.Spec.Selector != nil {
				if s, err := metav1.LabelSelectorAsSelector(c.Spec.JobTemplate.Spec.Selector); err == nil {
					sel = s.String()
				}
			}
			next, nextAt := "<none>", "<none>"
			if t := NextSchedule(c, now, time.Local); !t.IsZero() {
				next, nextAt = duration.HumanDuration(t.Sub(now)), t.Format(time.RFC3339)
			}
			return []any{c.Name, c.Spec.Schedule, tz, suspend, int64(len(c.Status.Active)), last, next, nextAt, registry.Age(c.CreationTimestamp, now), names, images, sel}, nil
		},
	}
}

const nextScheduleDoc = "When the controller next starts a job of this CronJob by its schedule (batchd.dev/jitter included); <none> when suspended or never."

// NextSchedule is when the CronJob's next slot fires after now, its jitter
// and DST policy included, computed as the controller does (local is the
// zone of a CronJob without timeZone: the server's); zero when suspended,
// unparseable or never. It is shown in the CronJob's zone.
func NextSchedule(c *batchv1.CronJob, now time.Time, local *time.Location) time.Time {
	if c.Spec.Suspend != nil && *c.Spec.Suspend {
		return time.Time{}
	}
	opts, _ := cronspec.ParseOptions(c.Annotations)
	s, err := cronspec.New(c.Spec.Schedule, c.Spec.TimeZone, local, opts.DST)
	if err != nil {
		return time.Time{}
	}
	t := cronspec.NextFire(s, cronspec.Offset(string(c.UID), opts.Jitter), now)
	if loc := s.Location(); loc != nil && !t.IsZero() {
		t = t.In(loc)
	}
	return t
}
