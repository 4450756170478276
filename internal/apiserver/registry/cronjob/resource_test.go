package cronjob

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apiserver/validation/validationtest"
)

func newCronJob(mutate func(*batchv1.CronJob)) *batchv1.CronJob {
	c := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", ResourceVersion: "1"},
		Spec: batchv1.CronJobSpec{Schedule: "*/1 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
		}}},
	}
	if mutate != nil {
		mutate(c)
	}
	SetDefaults(c)
	return c
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*batchv1.CronJob)
		want   []string
	}{
		{"valid", nil, nil},
		{"macro schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "@hourly" }, nil},
		{"named days and question mark", func(c *batchv1.CronJob) { c.Spec.Schedule = "30 2 ? JAN-MAR MON-FRI" }, nil},
		{"valid time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Asia/Seoul") }, nil},
		{"empty schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "" }, []string{"spec.schedule: Required value"}},
		{"three fields", func(c *batchv1.CronJob) { c.Spec.Schedule = "* * *" },
			[]string{`spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]`}},
		{"day of week 7", func(c *batchv1.CronJob) { c.Spec.Schedule = "0 0 * * 7" }, []string{`spec.schedule: Invalid value: "0 0 * * 7": end of range (7) above maximum (6): 7`}},
		{"TZ in schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 0 * * *" },
			[]string{`spec.schedule: Invalid value: "TZ=UTC 0 0 * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`}},
		{"TZ prefix alone (panics robfig/cron)", func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=" },
			[]string{`spec.schedule: Invalid value: "TZ=": expected fields after the time zone, found none: "TZ="`,
				`spec.schedule: Invalid value: "TZ=": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`}},
		{"unknown zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("bad-time-zone") },
			[]string{`spec.timeZone: Invalid value: "bad-time-zone": unknown time zone bad-time-zone`}},
		{"Local zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Local") },
			[]string{`spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones`}},
		{"empty zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("") },
			[]string{`spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string`}},
		{"path-like zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("../etc/passwd") },
			[]string{`spec.timeZone: Invalid value: "../etc/passwd": unknown time zone ../etc/passwd`}},
		{"bad concurrency policy", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" },
			[]string{`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`}},
		{"name too long", func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) },
			[]string{`metadata.name: Invalid value: "` + strings.Repeat("a", 53) + `": must be no more than 52 characters`}},
		{"selector in template", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
			c.Spec.JobTemplate.Spec.ManualSelector = ptr.To(true)
		}, []string{"spec.jobTemplate.spec.selector: Invalid value: {\"matchLabels\":{\"a\":\"b\"}}: `selector` will be auto-generated",
			`spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"`}},
		{"job template restart policy", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		},
			[]string{`spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"negative history", func(c *batchv1.CronJob) { c.Spec.FailedJobsHistoryLimit = ptr.To[int32](-1) },
			[]string{`spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			validationtest.Expect(t, Validate(newCronJob(c.mutate)), c.want...)
		})
	}
}

func TestDefaults(t *testing.T) {
	c := newCronJob(nil)
	if c.Spec.ConcurrencyPolicy != batchv1.AllowConcurrent || *c.Spec.Suspend || *c.Spec.SuccessfulJobsHistoryLimit != 3 || *c.Spec.FailedJobsHistoryLimit != 1 {
		t.Errorf("defaults = %+v", c.Spec)
	}
	// Job-level defaults are applied when a Job is made from the template, not here.
	if c.Spec.JobTemplate.Spec.BackoffLimit != nil || c.Spec.JobTemplate.Spec.CompletionMode != nil {
		t.Errorf("job defaults leaked into the template: %+v", c.Spec.JobTemplate.Spec)
	}
	if *c.Spec.JobTemplate.Spec.Template.Spec.TerminationGracePeriodSeconds != 30 {
		t.Error("pod template defaults missing")
	}
}

// A legacy object may keep a TZ schedule across updates.
func TestUpdateKeepsLegacyTZ(t *testing.T) {
	old := newCronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 0 * * *" })
	c := old.DeepCopy()
	c.Spec.Suspend = ptr.To(true)
	if errs := ValidateUpdate(c, old); len(errs) != 0 {
		t.Errorf("update of legacy TZ schedule: %v", errs)
	}
}
