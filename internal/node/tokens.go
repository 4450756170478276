package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// tokens requests pods' service-account tokens for their projected
// serviceAccountToken sources (the kube-api-access-* volume every pod
// gets) through the TokenRequest API, bound to the pod, and keeps each
// until it is due for refresh, as the kubelet's token manager does: at 80%
// of its lifetime, or after 24 hours. Times are real (the API server's),
// whatever the agent's clock.
type tokens struct {
	client kubernetes.Interface
	clock  clock.PassiveClock

	mu    sync.Mutex
	cache map[tokenKey]issuedToken
}

type tokenKey struct {
	pod        types.UID
	sa         string
	audience   string
	expiration int64
}

type issuedToken struct {
	token           []byte
	issued, expires time.Time
}

// maxTokenAge is how long a token is used at most, however long it lives.
const maxTokenAge = 24 * time.Hour

// RefreshAt is when a token issued at issued and expiring at expires is to
// be replaced: at 80% of its lifetime, at most 24 hours after it was issued.
func RefreshAt(issued, expires time.Time) time.Time {
	at := issued.Add(expires.Sub(issued) * 8 / 10)
	if limit := issued.Add(maxTokenAge); at.After(limit) {
		return limit
	}
	return at
}

func newTokens(client kubernetes.Interface, clk clock.PassiveClock) *tokens {
	return &tokens{client: client, clock: clk, cache: map[tokenKey]issuedToken{}}
}

// get is the token of pod's service account for src, requested when none
// is kept or the kept one is due for refresh.
func (t *tokens) get(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) ([]byte, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	key := tokenKey{pod: pod.UID, sa: sa, audience: src.Audience}
	if src.ExpirationSeconds != nil {
		key.expiration = *src.ExpirationSeconds
	}
	now, real := t.clock.Now(), time.Now()
	t.mu.Lock()
	kept, ok := t.cache[key]
	t.mu.Unlock()
	if ok && now.Before(RefreshAt(kept.issued, kept.expires)) {
		return kept.token, nil
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	if key.expiration != 0 {
		req.Spec.ExpirationSeconds = &key.expiration
	}
	got, err := t.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("failed to fetch token: %w", err)
	}
	// Its lifetime as the API server gave it (in the machine's time),
	// counted on this clock.
	lifetime := got.Status.ExpirationTimestamp.Time.Sub(real)
	if lifetime <= 0 {
		return nil, fmt.Errorf("failed to fetch token: it expired at %s, before it was issued", got.Status.ExpirationTimestamp.Time)
	}
	issued, expires := now, now.Add(lifetime)
	t.mu.Lock()
	t.cache[key] = issuedToken{token: []byte(got.Status.Token), issued: issued, expires: expires}
	t.mu.Unlock()
	return []byte(got.Status.Token), nil
}

// nextRefresh is when the first of pod's kept tokens is due (zero: none kept).
func (t *tokens) nextRefresh(uid types.UID) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var first time.Time
	for k, v := range t.cache {
		if at := RefreshAt(v.issued, v.expires); k.pod == uid && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	return first
}

// forget drops a pod's tokens.
func (t *tokens) forget(uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.cache {
		if k.pod == uid {
			delete(t.cache, k)
		}
	}
}

// hasTokenVolume tells whether the pod projects a service-account token.
func hasTokenVolume(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				return true
			}
		}
	}
	return false
}
