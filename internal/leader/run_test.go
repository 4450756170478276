package leader

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var testTiming = Timing{LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond}

// A stop ends lead first and releases the Lease only once lead has
// returned: the next holder never overlaps with what this one led.
func TestRunReleasesAfterLeadReturned(t *testing.T) {
	client := fake.NewClientset()
	var leadDone, releasedEarly atomic.Bool
	client.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
			releasedEarly.Store(!leadDone.Load())
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	leading := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Client: client, Name: ControllerManager, Identity: "me", Timing: testTiming}, func(ctx context.Context) {
			close(leading)
			<-ctx.Done()
			time.Sleep(200 * time.Millisecond) // in-flight work finishing
			leadDone.Store(true)
		})
	}()
	select {
	case <-leading:
	case <-time.After(10 * time.Second):
		t.Fatal("never led")
	}
	l, err := client.CoordinationV1().Leases(Namespace).Get(context.Background(), ControllerManager, metav1.GetOptions{})
	if err != nil || *l.Spec.HolderIdentity != "me" {
		t.Fatalf("lease %v, %v: want held by me", l, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if releasedEarly.Load() {
		t.Fatal("the lease was released before lead returned")
	}
	l, err = client.CoordinationV1().Leases(Namespace).Get(context.Background(), ControllerManager, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
		t.Fatalf("holder %q after a stop, want none", *l.Spec.HolderIdentity)
	}
	if *l.Spec.LeaseDurationSeconds != 1 {
		t.Fatalf("lease duration %d after release, want 1", *l.Spec.LeaseDurationSeconds)
	}
}

// A server whose identity holds an unexpired Lease (it was killed and
// restarted) leads at its first try; another identity waits.
func TestRunLeadsAtOnceWhenItHoldsTheLease(t *testing.T) {
	holder, dur := "me", int32(60)
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: ControllerManager},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, AcquireTime: &now, RenewTime: &now}}
	for _, tc := range []struct {
		identity string
		leads    bool
	}{{"me", true}, {"other", false}} {
		t.Run(tc.identity, func(t *testing.T) {
			client := fake.NewClientset(lease.DeepCopy())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			leading := make(chan struct{})
			go Run(ctx, Config{Client: client, Name: ControllerManager, Identity: tc.identity, Timing: testTiming}, func(ctx context.Context) {
				close(leading)
				<-ctx.Done()
			})
			select {
			case <-leading:
				if !tc.leads {
					t.Fatal("led while another holds an unexpired lease")
				}
			case <-time.After(5 * testTiming.RetryPeriod):
				if tc.leads {
					t.Fatal("did not lead at once with its own lease")
				}
			}
		})
	}
}

// A lead that returns on its own (its controllers failed to start) ends the
// term: the lease is released and the server campaigns again, instead of
// renewing a lease under which nothing runs.
func TestRunEndsTheTermWhenLeadReturns(t *testing.T) {
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	terms := make(chan struct{}, 10)
	go Run(ctx, Config{Client: client, Name: ControllerManager, Identity: "me", Timing: testTiming}, func(context.Context) {
		terms <- struct{}{}
	})
	for i := 0; i < 2; i++ {
		select {
		case <-terms:
		case <-time.After(10 * time.Second):
			t.Fatalf("term %d never began", i+1)
		}
	}
}
