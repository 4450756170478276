package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func TestRefreshAt(t *testing.T) {
	for _, c := range []struct {
		life, want time.Duration
	}{
		{time.Hour, 48 * time.Minute},
		{10 * time.Minute, 8 * time.Minute},
		{365 * 24 * time.Hour, 24 * time.Hour}, // an extended token: a day at most
	} {
		if got := RefreshAt(t0, t0.Add(c.life)).Sub(t0); got != c.want {
			t.Errorf("lifetime %v: refresh after %v, want %v", c.life, got, c.want)
		}
	}
}

// A projected token is requested for the pod's service account, bound to
// the pod, with the source's audience and expiration; it is kept until 80%
// of its lifetime and requested again after.
func TestTokensAreBoundKeptAndRefreshed(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	client := fake.NewClientset()
	var reqs []*authenticationv1.TokenRequest
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateAction)
		if !ok || a.GetSubresource() != "token" {
			return false, nil, nil
		}
		tr := ca.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		reqs = append(reqs, tr)
		tr.Status = authenticationv1.TokenRequestStatus{Token: fmt.Sprintf("token-%d", len(reqs)),
			ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))}
		return true, tr, nil
	})
	tk := newTokens(client, clk)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "pod-uid"}, Spec: corev1.PodSpec{ServiceAccountName: "robot"}}
	src := &corev1.ServiceAccountTokenProjection{Audience: "vault", ExpirationSeconds: ptr.To[int64](3600), Path: "token"}
	get := func() string {
		t.Helper()
		b, err := tk.get(context.Background(), pod, src)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := get(); got != "token-1" {
		t.Fatalf("first token %q", got)
	}
	r := reqs[0]
	if r.Spec.BoundObjectRef == nil || r.Spec.BoundObjectRef.Kind != "Pod" || r.Spec.BoundObjectRef.UID != "pod-uid" ||
		len(r.Spec.Audiences) != 1 || r.Spec.Audiences[0] != "vault" || *r.Spec.ExpirationSeconds != 3600 {
		t.Errorf("request %+v", r.Spec)
	}
	clk.Step(47 * time.Minute)
	if got := get(); got != "token-1" || len(reqs) != 1 {
		t.Errorf("before 80%% of the hour: %q after %d requests", got, len(reqs))
	}
	if at := tk.nextRefresh("pod-uid"); at.Sub(t0) < 47*time.Minute || at.Sub(t0) > 49*time.Minute {
		t.Errorf("next refresh %v after issue", at.Sub(t0))
	}
	clk.Step(2 * time.Minute)
	if got := get(); got != "token-2" {
		t.Errorf("past 80%%: %q", got)
	}
	tk.forget("pod-uid")
	if !tk.nextRefresh("pod-uid").IsZero() {
		t.Error("a forgotten pod's token is kept")
	}
}
