package cronjob

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apiserver/validation/validationtest"
	"github.com/batchd/batchd/internal/cronspec"
)

// row renders one CronJob's table row at now as cells by column name.
func row(t *testing.T, c *batchv1.CronJob, now time.Time) map[string]any {
	t.Helper()
	table := Table()
	table.Now = func() time.Time { return now }
	out, err := table.ConvertToTable(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	cells := map[string]any{}
	for i, col := range out.ColumnDefinitions {
		cells[col.Name] = out.Rows[0].Cells[i]
	}
	return cells
}

func TestTableNextSchedule(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 30, 0, time.UTC) // a Monday
	table := Table()
	var names []string
	for _, c := range table.Columns {
		if c.Priority == 0 {
			names = append(names, c.Name)
		}
	}
	if got := strings.Join(names, ","); got != "Name,Schedule,Timezone,Suspend,Active,Last Schedule,Next Schedule,Age" {
		t.Errorf("columns %s", got)
	}
	for _, tc := range []struct {
		name       string
		mutate     func(*batchv1.CronJob)
		next, wide string
	}{
		{"every minute", nil, "30s", "2026-11-23T10:01:00Z"},
		{"weekly in Seoul", func(c *batchv1.CronJob) { c.Spec.Schedule, c.Spec.TimeZone = "0 9 * * 1", ptr.To("Asia/Seoul") },
			"6d13h", "2026-11-30T09:00:00+09:00"},
		{"suspended", func(c *batchv1.CronJob) { c.Spec.Suspend = ptr.To(true) }, "<none>", "<none>"},
		{"never", func(c *batchv1.CronJob) { c.Spec.Schedule = "0 0 30 2 *" }, "<none>", "<none>"},
		{"with jitter", func(c *batchv1.CronJob) {
			c.Spec.Schedule, c.UID = "0 * * * *", "0b4f3c7e-5d0a-4e8e-9a71-3c2b1d4e5f60"
			c.Annotations = map[string]string{cronspec.JitterAnnotation: "30m"}
		}, "", ""},
		{"dst once in the gap", func(c *batchv1.CronJob) {
			c.Spec.Schedule, c.Spec.TimeZone = "30 2 28 3 *", ptr.To("Europe/Berlin")
			c.Annotations = map[string]string{cronspec.DSTAnnotation: "once"}
		}, "", "2027-03-28T03:00:00+02:00"},
		{"dst kubernetes in the gap", func(c *batchv1.CronJob) {
			c.Spec.Schedule, c.Spec.TimeZone = "30 2 28 3 *", ptr.To("Europe/Berlin")
		}, "", "2028-03-28T02:30:00+02:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCronJob(tc.mutate)
			c.CreationTimestamp = metav1.NewTime(now.Add(-time.Hour))
			cells := row(t, c, now)
			if tc.name == "with jitter" {
				offset := cronspec.Offset(string(c.UID), 30*time.Minute)
				want := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Add(offset)
				if !want.After(now) {
					want = want.Add(time.Hour)
				}
				tc.wide = want.Format(time.RFC3339)
			}
			if tc.next != "" && cells["Next Schedule"] != tc.next {
				t.Errorf("NEXT SCHEDULE = %v, want %v", cells["Next Schedule"], tc.next)
			}
			if cells["Next Schedule Time"] != tc.wide {
				t.Errorf("NEXT SCHEDULE TIME = %v, want %v", cells["Next Schedule Time"], tc.wide)
			}
		})
	}
}

func TestValidateAnnotations(t *testing.T) {
	validationtest.Expect(t, Validate(newCronJob(func(c *batchv1.CronJob) {
		c.Annotations = map[string]string{cronspec.JitterAnnotation: "5m", cronspec.CatchUpAnnotation: "all", cronspec.DSTAnnotation: "once", cronspec.TriggerAnnotation: "anything"}
	})))
	validationtest.Expect(t, Validate(newCronJob(func(c *batchv1.CronJob) {
		c.Annotations = map[string]string{cronspec.JitterAnnotation: "5 minutes", cronspec.CatchUpAnnotation: "everything"}
	})),
		`metadata.annotations[batchd.dev/jitter]: Invalid value: "5 minutes": must be a duration from 0s to 24h, such as 5m or 90s`,
		`metadata.annotations[batchd.dev/catch-up]: Unsupported value: "everything": supported values: "latest", "none", "all"`)
	// An update may keep a value an older server stored, not write a new bad one.
	old := newCronJob(func(c *batchv1.CronJob) { c.Annotations = map[string]string{cronspec.DSTAnnotation: "legacy"} })
	c := old.DeepCopy()
	c.Spec.Suspend = ptr.To(true)
	validationtest.Expect(t, ValidateUpdate(c, old))
	c.Annotations[cronspec.DSTAnnotation] = "twice"
	validationtest.Expect(t, ValidateUpdate(c, old), `metadata.annotations[batchd.dev/dst]: Unsupported value: "twice": supported values: "kubernetes", "once"`)
}

func TestExtensionWarnings(t *testing.T) {
	c := newCronJob(func(c *batchv1.CronJob) {
		c.Annotations = map[string]string{"batchd.dev/jiter": "5m", cronspec.JitterAnnotation: "5m"}
		c.Spec.StartingDeadlineSeconds = ptr.To[int64](60)
	})
	w := strings.Join(Resource().Funcs.WarningsOnCreate(c), "\n")
	for _, want := range []string{
		"metadata.annotations[batchd.dev/jiter]: not an annotation batchd reads on a CronJob",
		"metadata.annotations[batchd.dev/jitter]: 5m0s is longer than spec.startingDeadlineSeconds (60)",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if w := Resource().Funcs.WarningsOnCreate(newCronJob(nil)); len(w) != 0 {
		t.Errorf("warnings on a plain CronJob: %v", w)
	}
}

func TestValidateScheduleForPreview(t *testing.T) {
	validationtest.Expect(t, ValidateSchedule("* * *", nil), `spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]`)
	validationtest.Expect(t, ValidateSchedule("0 0 * * *", ptr.To("Mars/Olympus")), `spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus`)
	validationtest.Expect(t, ValidateSchedule("30 2 * * *", ptr.To("Europe/Berlin")))
}
