package cronjob

import (
	"fmt"

	"k8s.io/component-base/metrics"
)

// Metrics are upstream's creation-skew histogram plus the missed-run signal
// and kube-state-metrics' next-schedule gauge.
type Metrics struct {
	// skew is upstream's cronjob_controller_job_creation_skew_duration_seconds.
	skew *metrics.Histogram
	// missed counts slots and triggers that did not start, by reason.
	missed *metrics.CounterVec
	// next is kube_cronjob_next_schedule_time: when the next slot fires
	// (unix seconds, jitter included); no series while suspended.
	next *metrics.GaugeVec
}

func newMetrics(register func(metrics.Registerable) error) (*Metrics, error) {
	m := &Metrics{
		skew: metrics.NewHistogram(&metrics.HistogramOpts{
			Subsystem:      "cronjob_controller",
			Name:           "job_creation_skew_duration_seconds",
			Help:           "Time between when a cronjob is scheduled to be run, and when the corresponding job is created",
			StabilityLevel: metrics.STABLE,
			Buckets:        metrics.ExponentialBuckets(1, 2, 10),
		}),
		missed: metrics.NewCounterVec(&metrics.CounterOpts{
			Subsystem: "cronjob_controller",
			Name:      "missed_schedules_total",
			Help:      "Scheduled times (and triggers) of a cronjob that did not start a job, by reason: forbid, deadline, suspended, too_many, catch_up",
		}, []string{"namespace", "cronjob", "reason"}),
		next: metrics.NewGaugeVec(&metrics.GaugeOpts{
			Name: "kube_cronjob_next_schedule_time",
			Help: "Next time the cronjob is scheduled to run, in Unix time (its jitter included).",
		}, []string{"namespace", "cronjob"}),
	}
	if register == nil {
		register = func(r metrics.Registerable) error {
			r.Create(nil)
			return nil
		}
	}
	for _, r := range []metrics.Registerable{m.skew, m.missed, m.next} {
		if err := register(r); err != nil {
			return nil, fmt.Errorf("register cronjob metrics: %w", err)
		}
	}
	return m, nil
}

// forget drops the series of a deleted CronJob.
func (m *Metrics) forget(namespace, name string) {
	m.next.DeleteLabelValues(namespace, name)
	for _, r := range missedReasons {
		m.missed.Delete(map[string]string{"namespace": namespace, "cronjob": name, "reason": r})
	}
}
