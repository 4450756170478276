package leader

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Namespace holds the Leases, as upstream's components keep theirs.
const Namespace = "kube-system"

// Lease names: kube-controller-manager's and kube-scheduler's own, so that
// `kubectl get lease -n kube-system` reads as on any cluster.
const (
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
)

// Timing is how long a lease lasts, how long a leader keeps trying to renew
// it before it stops leading, and how often candidates try.
type Timing struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// DefaultTiming is kube-controller-manager's and kube-scheduler's.
var DefaultTiming = Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

// Validate reports what client-go's elector would refuse, in the flags' names.
func (t Timing) Validate() []error {
	var errs []error
	if t.LeaseDuration < time.Second {
		errs = append(errs, fmt.Errorf("--leader-elect-lease-duration %s must be at least 1s (a Lease counts whole seconds)", t.LeaseDuration))
	}
	if t.RenewDeadline <= 0 || t.RenewDeadline >= t.LeaseDuration {
		errs = append(errs, fmt.Errorf("--leader-elect-renew-deadline %s must be positive and less than the lease duration %s", t.RenewDeadline, t.LeaseDuration))
	}
	if t.RetryPeriod <= 0 || float64(t.RenewDeadline) <= leaderelection.JitterFactor*float64(t.RetryPeriod) {
		errs = append(errs, fmt.Errorf("--leader-elect-retry-period %s must be positive and the renew deadline %s more than %.1f times it", t.RetryPeriod, t.RenewDeadline, leaderelection.JitterFactor))
	}
	return errs
}

// Config is one election.
type Config struct {
	Client kubernetes.Interface
	// Name is the Lease's, in Namespace.
	Name string
	// Identity is this server's (see Identity).
	Identity string
	Timing   Timing
	// Recorder records the LeaderElection events upstream records ("X
	// became leader") on the Lease; nil records none.
	Recorder resourcelock.EventRecorder
	// Logf reports leadership changes (nil: none).
	Logf func(format string, args ...any)
}

// Run campaigns for the Lease until ctx ends. While this server holds it,
// lead runs with a context that ends when the lease is lost or ctx ends;
// lead must return only once everything it started has stopped. When a term
// ends — the lease lost, ctx ended, or lead returned on its own (it failed)
// — Run releases the lease if it still holds it, never while what it guards
// still acts, and campaigns again after a retry period unless ctx ended.
func Run(ctx context.Context, cfg Config, lead func(context.Context)) error {
	if errs := cfg.Timing.Validate(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	lease := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: Namespace, Name: cfg.Name},
		Client:     cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity, EventRecorder: cfg.Recorder},
	}
	for ctx.Err() == nil {
		done := make(chan struct{})
		lock := &acquireWatch{Interface: lease}
		// A term also ends when lead returns on its own: the elector
		// must not go on renewing a lease for nothing.
		term, endTerm := context.WithCancel(ctx)
		// A new elector per term: it keeps no state of the last one.
		// client-go's ReleaseOnCancel would release the lease as soon as
		// the elector's context ends, before lead has stopped (and also
		// when a renewal merely failed): the release is done here instead.
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:          lock,
			LeaseDuration: cfg.Timing.LeaseDuration,
			RenewDeadline: cfg.Timing.RenewDeadline,
			RetryPeriod:   cfg.Timing.RetryPeriod,
			Name:          cfg.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(leCtx context.Context) {
					defer close(done)
					defer endTerm()
					cfg.Logf("leader: leading %s/%s as %s", Namespace, cfg.Name, cfg.Identity)
					lead(leCtx)
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			endTerm()
			return fmt.Errorf("leader election %s: %w", cfg.Name, err)
		}
		le.Run(term)
		endTerm()
		if !lock.acquired.Load() {
			continue // ctx ended while campaigning
		}
		// OnStartedLeading was started (on a goroutine of its own).
		<-done
		release(ctx, lease, cfg)
		if ctx.Err() != nil {
			return nil
		}
		cfg.Logf("leader: stopped leading %s/%s; campaigning again", Namespace, cfg.Name)
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Timing.RetryPeriod):
		}
	}
	return nil
}

// acquireWatch tells whether the elector acquired the lease: it records its
// "became leader" event, synchronously, just before it starts
// OnStartedLeading on a goroutine of its own.
type acquireWatch struct {
	resourcelock.Interface
	acquired atomic.Bool
}

func (w *acquireWatch) RecordEvent(s string) {
	if s == "became leader" {
		w.acquired.Store(true)
	}
	w.Interface.RecordEvent(s)
}

// releaseTimeout bounds a release at a graceful stop.
const releaseTimeout = 5 * time.Second

// release gives up the lease if this server still holds it, as client-go's
// ReleaseOnCancel does: no holder, a 1 s duration, so that the next
// candidate to try acquires it at once.
func release(ctx context.Context, lock *resourcelock.LeaseLock, cfg Config) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	rec, _, err := lock.Get(ctx)
	if err != nil {
		cfg.Logf("leader: release %s/%s: %v", Namespace, cfg.Name, err)
		return
	}
	if rec.HolderIdentity != cfg.Identity {
		return
	}
	now := metav1.Now()
	err = lock.Update(ctx, resourcelock.LeaderElectionRecord{
		LeaderTransitions: rec.LeaderTransitions, LeaseDurationSeconds: 1, RenewTime: now, AcquireTime: now,
	})
	if err != nil {
		cfg.Logf("leader: release %s/%s: %v", Namespace, cfg.Name, err)
		return
	}
	cfg.Logf("leader: released %s/%s", Namespace, cfg.Name)
}
