package stream

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The options kubectl logs sends reach the agent as they were.
func TestLogQueryRoundTrip(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	since := metav1.NewTime(time.Date(2026, 11, 30, 12, 0, 0, 5, time.UTC))
	for _, opts := range []*corev1.PodLogOptions{
		{},
		{Follow: true, Previous: true, Timestamps: true, TailLines: n(0), LimitBytes: n(10), SinceSeconds: n(30)},
		{SinceTime: &since, TailLines: n(7)},
	} {
		back, err := parseLogQuery(LogQuery(opts))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, opts) {
			t.Errorf("%+v came back as %+v", opts, back)
		}
	}
	if _, err := parseLogQuery(map[string][]string{"tailLines": {"x"}}); err == nil {
		t.Error("a bad tailLines was taken")
	}
}

// /containerLogs streams the log; its errors are Statuses that come back
// as the same API errors.
func TestContainerLogs(t *testing.T) {
	var got *corev1.PodLogOptions
	h := Handler(Config{Logs: func(_ context.Context, ns, pod, container string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
		got = opts
		switch pod {
		case "gone":
			return nil, ErrPodNotFound
		case "waiting":
			return nil, apierrors.NewBadRequest(`container "c" in pod "waiting" is waiting to start: ContainerCreating`)
		}
		return io.NopCloser(strings.NewReader(ns + "/" + pod + "/" + container + "\n")), nil
	}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string) *http.Response {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get("/containerLogs/n/p/c?follow=true&tailLines=2")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "n/p/c\n" || !got.Follow || *got.TailLines != 2 {
		t.Fatalf("%s %q with %+v", resp.Status, body, got)
	}
	for pod, check := range map[string]func(error) bool{"gone": apierrors.IsNotFound, "waiting": apierrors.IsBadRequest} {
		resp := get("/containerLogs/n/" + pod + "/c")
		err := LogError(resp)
		resp.Body.Close()
		if !check(err) {
			t.Errorf("%s: %v", pod, err)
		}
	}
	resp = get("/containerLogs/n/p/c?sinceSeconds=soon")
	if err := LogError(resp); !apierrors.IsBadRequest(err) {
		t.Errorf("bad sinceSeconds: %v", err)
	}
	resp.Body.Close()
}
