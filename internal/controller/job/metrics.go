package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-base/metrics"
	"k8s.io/utils/ptr"
)

// subsystem prefixes every Job controller metric, as upstream's.
const subsystem = "job_controller"

// Metrics are the Job controller's series under upstream's names and labels.
type Metrics struct {
	syncDuration      *metrics.HistogramVec // completion_mode, result, action
	syncs             *metrics.CounterVec   // completion_mode, result, action
	finished          *metrics.CounterVec   // completion_mode, result, reason
	podsFinished      *metrics.CounterVec   // completion_mode, result
	byPolicy          *metrics.CounterVec   // action
	trackingFinalizer *metrics.CounterVec   // event: add, delete
	finishedIndexes   *metrics.CounterVec   // status, backoffLimit
	podsCreated       *metrics.CounterVec   // reason, status
	external          *metrics.CounterVec   // controller_name
}

func newMetrics(register func(metrics.Registerable) error) (*Metrics, error) {
	m := &Metrics{
		syncDuration: metrics.NewHistogramVec(&metrics.HistogramOpts{Subsystem: subsystem, Name: "job_sync_duration_seconds",
			Help: "The time it took to sync a job", StabilityLevel: metrics.STABLE, Buckets: metrics.ExponentialBuckets(0.004, 2, 15)},
			[]string{"completion_mode", "result", "action"}),
		syncs: metrics.NewCounterVec(&metrics.CounterOpts{Subsystem: subsystem, Name: "job_syncs_total",
			Help: "The number of job syncs", StabilityLevel: metrics.STABLE}, []string{"completion_mode", "result", "action"}),
		finished: metrics.NewCounterVec(&metrics.CounterOpts{Subsystem: subsystem, Name: "jobs_finished_total",
			Help: "The number of finished jobs", StabilityLevel: metrics.STABLE}, []string{"completion_mode", "result", "reason"}),
		podsFinished: metrics.NewCounterVec(&metrics.CounterOpts{Subsystem: subsystem, Name: "job_pods_finished_total",
			Help: "The number of finished Pods that are fully tracked", StabilityLevel: metrics.STABLE}, []string{"completion_mode", "result"}),
		byPolicy: metrics.NewCounterVec(&metrics.CounterOpts{Subsystem: subsystem, Name: "pod_failures_handled_by_failure_policy_total",
			Help: "The number of failed Pods handled by failure policy with respect to the failure policy action applied based on the matched rule."},
			[]string{"action"}),
		trackingFinalizer: metrics.NewCounterVec(&metrics.CounterOpts{Subsystem: subsystem, Name: "terminated_pods_tracking_finalizer_total",
			Help: "The number of terminated pods (phase=Failed|Succeeded) that have the finalizer batch.kubernetes.io/job-tracking. The event label can be \"add\" or \"delete\"."},
			[]string{"event"}),
		finishedIndexes: metrics.NewCounterVec(&metrics.CounterOpts{Subsystem: subsystem, Name: "job_finished_indexes_total",
			Help: "The number of finished indexes."}, []string{"status", "backoffLimit"}),
		podsCreated: metrics.NewCounterVec(&metrics.CounterOpts{Subsystem: subsystem, Name: "job_pods_creation_total",
			Help: "The number of Pods created by the Job controller labelled with a reason for the Pod creation."}, []string{"reason", "status"}),
		external: metrics.NewCounterVec(&metrics.CounterOpts{Subsystem: subsystem, Name: "jobs_by_external_controller_total",
			Help: "The number of Jobs managed by an external controller"}, []string{"controller_name"}),
	}
	if register != nil {
		for _, r := range []metrics.Registerable{m.syncDuration, m.syncs, m.finished, m.podsFinished, m.byPolicy, m.trackingFinalizer, m.finishedIndexes, m.podsCreated, m.external} {
			if err := register(r); err != nil {
				return nil, fmt.Errorf("register job metrics: %w", err)
			}
		}
	}
	return m, nil
}

func completionMode(j *batchv1.Job) string {
	return string(ptr.Deref(j.Spec.CompletionMode, batchv1.NonIndexedCompletion))
}

// syncAction names what a sync did, as upstream's action label does.
func syncAction(p Plan, unsynced bool) string {
	switch {
	case unsynced:
		return "reconciling"
	case len(p.Create) > 0:
		return "pods_created"
	case len(p.DeleteUncounted)+len(p.DeleteFailed) > 0:
		return "pods_deleted"
	}
	return "tracking"
}

// recordPlan counts what a written plan settled: pods fully tracked (moved
// from uncounted into the counters), pods handled by the failure policy,
// newly finished indexes and the Job's own end.
func (m *Metrics) recordPlan(j *batchv1.Job, p Plan) {
	mode := completionMode(j)
	if s := p.Status; s != nil {
		if d := s.Succeeded - j.Status.Succeeded; d > 0 && mode == string(batchv1.NonIndexedCompletion) {
			m.podsFinished.WithLabelValues(mode, "succeeded").Add(float64(d))
		}
		if d := s.Failed - j.Status.Failed; d > 0 {
			m.podsFinished.WithLabelValues(mode, "failed").Add(float64(d))
		}
		if mode == string(batchv1.IndexedCompletion) {
			limit := "global"
			if j.Spec.BackoffLimitPerIndex != nil {
				limit = "perIndex"
			}
			// succeeded counts the completed indexes; only failed indexes need parsing, and only when they changed.
			if done := s.Succeeded - j.Status.Succeeded; done > 0 {
				m.podsFinished.WithLabelValues(mode, "succeeded").Add(float64(done))
				m.finishedIndexes.WithLabelValues("succeeded", limit).Add(float64(done))
			}
			if now, before := ptr.Deref(s.FailedIndexes, ""), ptr.Deref(j.Status.FailedIndexes, ""); now != before {
				completions := int(ptr.Deref(j.Spec.Completions, 0))
				if failed := len(ParseIndexes(now, completions)) - len(ParseIndexes(before, completions)); failed > 0 {
					m.finishedIndexes.WithLabelValues("failed", limit).Add(float64(failed))
				}
			}
		}
		if !finished(&j.Status) && finished(s) {
			if c, ok := hasCond(s, batchv1.JobComplete); ok {
				m.finished.WithLabelValues(mode, "succeeded", c.Reason).Inc()
			} else if c, ok := hasCond(s, batchv1.JobFailed); ok {
				m.finished.WithLabelValues(mode, "failed", c.Reason).Inc()
			}
		}
	}
	if j.Spec.PodFailurePolicy != nil {
		for _, pod := range p.RemoveFinalizers {
			if pod.Status.Phase != corev1.PodFailed {
				continue
			}
			if action, _ := matchFailurePolicy(j.Spec.PodFailurePolicy, pod); action != nil {
				m.byPolicy.WithLabelValues(string(*action)).Inc()
			}
		}
	}
}

// trackFinalizer counts terminated pods gaining ("add") or losing
// ("delete") the tracking finalizer, whoever owns them; old or new is nil
// for a pod that appears or goes.
func (m *Metrics) trackFinalizer(old, new any) {
	was, is := trackedTerminated(old), trackedTerminated(new)
	switch {
	case !was && is:
		m.trackingFinalizer.WithLabelValues("add").Inc()
	case was && !is:
		m.trackingFinalizer.WithLabelValues("delete").Inc()
	}
}

func trackedTerminated(obj any) bool {
	p, ok := obj.(*corev1.Pod)
	return ok && isFinished(p) && hasString(p.Finalizers, TrackingFinalizer)
}
