package job

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Reasons and messages of the per-index failure conditions (spec §2.1).
const (
	ReasonMaxFailedIndexesExceeded  = "MaxFailedIndexesExceeded"
	MessageMaxFailedIndexesExceeded = "Job has exceeded the specified maximal number of failed indexes"
	ReasonFailedIndexes             = "FailedIndexes"
	MessageFailedIndexes            = "Job has failed indexes"
)

// perIndex is what backoffLimitPerIndex needs to know about an Indexed Job's
// pods: which indexes have failed for good, and for each index still to run
// the latest failed pod (whose counts its replacement inherits, and whose
// finalizer stays until that replacement exists — spec §3.8, §3.10).
type perIndex struct {
	limit  int32
	failed Indexes
	last   map[int]*corev1.Pod
}

// newPerIndex reads the per-index state of an Indexed Job with
// backoffLimitPerIndex; completed are the indexes succeeded so far.
func newPerIndex(j *batchv1.Job, pods []*corev1.Pod, completions int, completed Indexes) *perIndex {
	s := &perIndex{
		limit:  *j.Spec.BackoffLimitPerIndex,
		failed: ParseIndexes(ptr.Deref(j.Status.FailedIndexes, ""), completions),
		last:   map[int]*corev1.Pod{},
	}
	running := map[int]bool{}
	for _, p := range pods {
		i := podIndex(p)
		if i < 0 || i >= completions {
			continue
		}
		switch {
		case !isFinished(p) && p.DeletionTimestamp == nil:
			running[i] = true
		case podFailed(j, p) && s.indexFailedBy(j, p):
			s.failed = s.failed.With(i)
		}
	}
	for _, p := range pods {
		i := podIndex(p)
		if i < 0 || i >= completions || !podFailed(j, p) || running[i] || completed.Has(i) || s.failed.Has(i) {
			continue
		}
		if prev, ok := s.last[i]; !ok || finishTime(prev).Before(finishTime(p)) {
			s.last[i] = p
		}
	}
	return s
}

// indexFailedBy reports whether a failed pod fails its index: a FailIndex
// rule matched, or a counted failure with the index's failure count at the
// limit.
func (s *perIndex) indexFailedBy(j *batchv1.Job, p *corev1.Pod) bool {
	action, _ := matchFailurePolicy(j.Spec.PodFailurePolicy, p)
	if action != nil {
		switch *action {
		case batchv1.PodFailurePolicyActionFailIndex:
			return true
		case batchv1.PodFailurePolicyActionIgnore:
			return false
		}
	}
	return annotationCount(p, batchv1.JobIndexFailureCountAnnotation) >= s.limit
}

// held reports whether a failed pod's finalizer must stay for now: it is the
// latest failure of an index whose replacement does not exist yet.
func (s *perIndex) held(p *corev1.Pod) bool {
	i := podIndex(p)
	return i >= 0 && s.last[i] == p
}

// counts returns the failure and ignored-failure counts the next pod of
// index i carries: those of the pod it replaces, plus that pod's failure.
func (s *perIndex) counts(j *batchv1.Job, i int) (failures, ignored int32) {
	prev, ok := s.last[i]
	if !ok {
		return 0, 0
	}
	failures = annotationCount(prev, batchv1.JobIndexFailureCountAnnotation)
	ignored = annotationCount(prev, batchv1.JobIndexIgnoredFailureCountAnnotation)
	if action, _ := matchFailurePolicy(j.Spec.PodFailurePolicy, prev); action != nil && *action == batchv1.PodFailurePolicyActionIgnore {
		ignored++
	} else {
		failures++
	}
	return failures, ignored
}

// wait is how long index i must still wait before its next pod: the pod
// re-creation backoff for the index's failures so far, from the latest one.
func (s *perIndex) wait(j *batchv1.Job, i int, now time.Time) time.Duration {
	prev, ok := s.last[i]
	if !ok {
		return 0
	}
	failures, ignored := s.counts(j, i)
	return max(backoffDelay(int(failures+ignored))-now.Sub(finishTime(prev)), 0)
}

// annotate stamps a new pod of index i with its failure counts, as upstream
// does: the failure count always, the ignored count only when non-zero.
func (s *perIndex) annotate(j *batchv1.Job, p *corev1.Pod, i int) {
	failures, ignored := s.counts(j, i)
	p.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(int(failures))
	if ignored > 0 {
		p.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
	}
}

func annotationCount(p *corev1.Pod, key string) int32 {
	n, err := strconv.ParseInt(p.Annotations[key], 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}
