package cronjob

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/batchd/batchd/internal/cronspec"
)

// TriggerJobName is the deterministic name of a trigger token's Job: a
// crash between creating it and recording the token finds it again
// instead of starting a second run. The "t" keeps it apart from slot
// names (all digits); 9 hex digits keep a 52-character CronJob name's Job
// name within 63 characters.
func TriggerJobName(cj *batchv1.CronJob, token string) string {
	h := sha256.Sum256([]byte(string(cj.UID) + "/" + token))
	return fmt.Sprintf("%s-t%s", cj.Name, hex.EncodeToString(h[:5])[:9])
}

// triggerFired: the token's Job exists (listed, or still in status.active).
func triggerFired(cj *batchv1.CronJob, jobs []*batchv1.Job, st *batchv1.CronJobStatus, token string) bool {
	name := TriggerJobName(cj, token)
	for _, j := range jobs {
		if j.Name == name {
			return true
		}
	}
	for _, ref := range st.Active {
		if ref.Name == name {
			return true
		}
	}
	return false
}

// fireTrigger plans a trigger's run as if a slot had come now: concurrency
// policy applies, and the token is recorded whether it runs or is skipped.
func (p *Plan) fireTrigger(o Observed, token string) {
	p.Trigger = token
	if !p.admit(o) {
		p.missTrigger(o, token, MissedForbid)
		return
	}
	at := o.Now.Truncate(time.Second) // what lastScheduleTime can hold
	j := JobFor(o.CronJob, at)
	j.Name = TriggerJobName(o.CronJob, token)
	j.Annotations[cronspec.TriggerAnnotation] = token
	p.Create, p.Scheduled, p.FireAt = j, at, at
}
