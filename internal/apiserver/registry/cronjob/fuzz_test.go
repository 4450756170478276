package cronjob

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

// FuzzValidateCronJob feeds arbitrary CronJobs, schedules and time zones
// included, through defaulting and validation: nothing may panic, and every
// error names its field.
func FuzzValidateCronJob(f *testing.F) {
	for _, s := range []string{"*/1 * * * *", "@hourly", "CRON_TZ=UTC 0 0 * * *", "59 23 31 2 *", "0 2 * * 1-5", "*/0 * * * *", "TZ=Asia/Seoul 0 9 * * *"} {
		f.Add(s, "Asia/Seoul")
		f.Add(s, "")
	}
	f.Add("0 0 * * *", "../../etc/passwd")
	f.Add("0 0 * * *", "Local")
	f.Fuzz(func(t *testing.T, schedule, tz string) {
		for _, withTZ := range []bool{false, true} {
			cj := &batchv1.CronJob{}
			raw := `{"metadata":{"name":"fuzz","namespace":"default"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}}}`
			if err := yaml.Unmarshal([]byte(raw), cj); err != nil {
				t.Fatal(err)
			}
			cj.Spec.Schedule = schedule
			if withTZ {
				cj.Spec.TimeZone = &tz
			}
			SetDefaults(cj)
			for _, e := range Validate(cj) {
				if e.Field == "" {
					t.Errorf("error without a field path: %v", e)
				}
			}
		}
	})
}
