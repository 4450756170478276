package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
)

// ReasonSuccessPolicy is the reason of the conditions a successPolicy match writes.
const ReasonSuccessPolicy = "SuccessPolicy"

// matchSuccessPolicy checks an Indexed Job's successPolicy rules in order
// against the completed indexes (spec §3.12): succeededCount alone needs that
// many completed indexes; succeededIndexes needs all listed indexes
// completed, or with succeededCount at least that many of them. Nothing
// matches before the first index succeeded.
func matchSuccessPolicy(sp *batchv1.SuccessPolicy, completions int, completed Indexes) (string, bool) {
	if sp == nil || len(completed) == 0 {
		return "", false
	}
	for i, r := range sp.Rules {
		need := -1
		if r.SucceededCount != nil {
			need = int(*r.SucceededCount)
		}
		if r.SucceededIndexes == nil {
			if need >= 0 && len(completed) >= need {
				return fmt.Sprintf("Matched rules at index %d", i), true
			}
			continue
		}
		listed := ParseIndexes(*r.SucceededIndexes, completions)
		done := 0
		for _, x := range listed {
			if completed.Has(x) {
				done++
			}
		}
		if (need < 0 && done == len(listed)) || (need >= 0 && done >= need) {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}
