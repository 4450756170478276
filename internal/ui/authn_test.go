package ui

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestSafeRead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		want    bool
	}{
		{"list", "GET", "/apis/batch/v1/jobs?limit=500", nil, true},
		{"watch", "GET", "/apis/batch/v1/jobs?watch=1&resourceVersion=5", nil, true},
		{"log follow", "GET", "/api/v1/namespaces/ns/pods/p/log?follow=true", nil, true},
		{"same-origin fetch", "GET", "/api/v1/nodes", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"typed in the address bar", "GET", "/api/v1/nodes", map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"discovery", "GET", "/apis/batchd.dev/v1alpha1", nil, true},
		{"a namespace named exec", "GET", "/api/v1/namespaces/exec/pods", nil, true},
		{"a pod named proxy", "GET", "/api/v1/namespaces/ns/pods/proxy", nil, true},
		{"post", "POST", "/apis/batch/v1/namespaces/ns/jobs", nil, false},
		{"put", "PUT", "/apis/batch/v1/namespaces/ns/jobs/j", nil, false},
		{"patch", "PATCH", "/apis/batch/v1/namespaces/ns/jobs/j", nil, false},
		{"delete", "DELETE", "/apis/batch/v1/namespaces/ns/jobs/j", nil, false},
		{"head", "HEAD", "/api/v1/nodes", nil, false},
		{"exec over websocket", "GET", "/api/v1/namespaces/ns/pods/p/exec?command=sh", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"}, false},
		{"exec without upgrade headers", "GET", "/api/v1/namespaces/ns/pods/p/exec?command=sh", nil, false},
		{"attach", "GET", "/api/v1/namespaces/ns/pods/p/attach", nil, false},
		{"portforward", "GET", "/api/v1/namespaces/ns/pods/p/portforward", nil, false},
		{"pod proxy", "GET", "/api/v1/namespaces/ns/pods/p/proxy/metrics", nil, false},
		{"node proxy", "GET", "/api/v1/nodes/n/proxy/logs", nil, false},
		{"service proxy", "GET", "/api/v1/namespaces/ns/services/s:80/proxy/", nil, false},
		{"any upgrade", "GET", "/api/v1/nodes", map[string]string{"Upgrade": "SPDY/3.1"}, false},
		{"connection upgrade token", "GET", "/api/v1/nodes", map[string]string{"Connection": "keep-alive, Upgrade"}, false},
		{"cross-site", "GET", "/api/v1/nodes", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same-site other origin", "GET", "/api/v1/nodes", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := SafeRead(r); got != tc.want {
				t.Errorf("SafeRead(%s %s %v) = %v, want %v", tc.method, tc.path, tc.headers, got, tc.want)
			}
		})
	}
}

func TestSessionAuthenticator(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Now())
	u := New(Config{Clock: clock})
	token, key, _, err := u.Store().NewSession(alice)
	if err != nil {
		t.Fatal(err)
	}
	authn := u.Session()
	req := func(method, host, path, cookie, pageKey string) *http.Request {
		r := httptest.NewRequest(method, "https://"+host+path, nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: CookieName(host), Value: cookie})
		}
		if pageKey != "" {
			r.Header.Set(PageKeyHeader, pageKey)
		}
		return r
	}
	const host = "127.0.0.1:6443"

	r := req("GET", host, "/apis/batch/v1/jobs", token, key)
	resp, ok, err := authn.AuthenticateRequest(r)
	if err != nil || !ok || resp.User.GetName() != "alice" {
		t.Fatalf("GET with the session = %v, %v, %v; want alice", resp, ok, err)
	}
	if r.Header.Get(PageKeyHeader) != "" {
		t.Error("the page key went on down the chain")
	}
	for name, r := range map[string]*http.Request{
		"POST":           req("POST", host, "/apis/batch/v1/namespaces/ns/jobs", token, key),
		"DELETE":         req("DELETE", host, "/api/v1/namespaces/ns", token, key),
		"exec":           req("GET", host, "/api/v1/namespaces/ns/pods/p/exec", token, key),
		"no cookie":      req("GET", host, "/apis/batch/v1/jobs", "", key),
		"unknown cookie": req("GET", host, "/apis/batch/v1/jobs", "not-a-session", key),
		"cookie only (another server replays it)": req("GET", host, "/apis/batch/v1/jobs", token, ""),
		"wrong page key": req("GET", host, "/apis/batch/v1/jobs", token, "guess"),
	} {
		if resp, ok, err := authn.AuthenticateRequest(r); ok || err != nil {
			t.Errorf("%s: %v, %v, %v; want no opinion", name, resp, ok, err)
		}
	}
	// The cookie of the server on another port is not this server's.
	other := req("GET", host, "/apis/batch/v1/jobs", "", key)
	other.AddCookie(&http.Cookie{Name: CookieName("127.0.0.1:7443"), Value: token})
	if _, ok, _ := authn.AuthenticateRequest(other); ok {
		t.Error("the cookie named for port 7443 authenticated on 6443")
	}
	// A login code is no session.
	code, _, _ := u.Store().NewCode(alice)
	if _, ok, _ := authn.AuthenticateRequest(req("GET", host, "/apis/batch/v1/jobs", code, key)); ok {
		t.Error("a login code authenticated as a session cookie")
	}
	clock.SetTime(clock.Now().Add(DefaultSessionTTL))
	if _, ok, _ := authn.AuthenticateRequest(req("GET", host, "/apis/batch/v1/jobs", token, key)); ok {
		t.Error("an expired session authenticated")
	}
}

func TestCookieName(t *testing.T) {
	for host, want := range map[string]string{"127.0.0.1:6443": "__Host-batchd-ui-6443", "[::1]:7000": "__Host-batchd-ui-7000", "batchd.example": "__Host-batchd-ui-443"} {
		if got := CookieName(host); got != want {
			t.Errorf("CookieName(%q) = %q, want %q", host, got, want)
		}
	}
}
