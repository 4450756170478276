package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/batchd/batchd/internal/testenv"
)

// TestRolesFromTheTokenFile: a batchd:view user reads but cannot write or
// read Secrets, a batchd:edit user writes, a stranger's token and no
// credentials at all get 401; the refusals are upstream's Forbidden text.
func TestRolesFromTheTokenFile(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		StringData: map[string]string{"password": "hunter2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	viewer, err := env.As("viewer")
	if err != nil {
		t.Fatal(err)
	}
	editor, err := env.As("editor")
	if err != nil {
		t.Fatal(err)
	}

	if _, err := viewer.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("viewer cannot list jobs: %v", err)
	}
	_, err = viewer.BatchV1().Jobs(ns).Create(ctx, testenv.Job("nope"), metav1.CreateOptions{})
	want := `jobs.batch is forbidden: User "viewer" cannot create resource "jobs" in API group "batch" in the namespace "` + ns + `"`
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("viewer create: %v, want 403 %q", err, want)
	}
	_, err = viewer.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{})
	if !apierrors.IsForbidden(err) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("viewer get secret: %v", err)
	}
	if _, err := viewer.Discovery().ServerVersion(); err != nil {
		t.Errorf("viewer version: %v", err)
	}

	created, err := editor.BatchV1().Jobs(ns).Create(ctx, testenv.Job("edited"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("editor create: %v", err)
	}
	if err := editor.BatchV1().Jobs(ns).Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Errorf("editor delete: %v", err)
	}

	stranger := restclient.AnonymousClientConfig(env.Config)
	stranger.BearerToken = "not-a-token"
	anonymous := restclient.AnonymousClientConfig(env.Config)
	for name, cfg := range map[string]*restclient.Config{"stranger": stranger, "anonymous": anonymous} {
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
			t.Errorf("%s list: %v, want 401", name, err)
		}
	}
}

// TestProfilingIsTheAdminsOnly: with --profiling, /debug/pprof and the log
// level at /debug/flags/v answer the admin only; a batchd:edit user (who
// may write every resource) gets upstream's 403 for a non-resource URL.
func TestProfilingIsTheAdminsOnly(t *testing.T) {
	ctx := context.Background()
	// status is the Status the server answered req with.
	status := func(req *restclient.Request) metav1.Status {
		t.Helper()
		raw, _ := req.Do(ctx).Raw()
		var st metav1.Status
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("not a Status: %v: %q", err, raw)
		}
		return st
	}
	for _, name := range []string{"editor", "viewer"} {
		c, err := env.As(name)
		if err != nil {
			t.Fatal(err)
		}
		rest := c.CoreV1().RESTClient()
		st := status(rest.Get().AbsPath("/debug/pprof/"))
		if want := `forbidden: User "` + name + `" cannot get path "/debug/pprof/"`; st.Code != 403 || st.Reason != metav1.StatusReasonForbidden || st.Message != want {
			t.Errorf("%s GET /debug/pprof/: %d %s %q, want 403 Forbidden %q", name, st.Code, st.Reason, st.Message, want)
		}
		if st := status(rest.Get().AbsPath("/debug/pprof/goroutine").Param("debug", "1")); st.Code != 403 {
			t.Errorf("%s GET /debug/pprof/goroutine: %d %q, want 403", name, st.Code, st.Message)
		}
		st = status(rest.Put().AbsPath("/debug/flags/v").Body([]byte("9")))
		if want := `forbidden: User "` + name + `" cannot put path "/debug/flags/v"`; st.Code != 403 || st.Message != want {
			t.Errorf("%s PUT /debug/flags/v: %d %q, want 403 %q", name, st.Code, st.Message, want)
		}
		if _, err := rest.Get().AbsPath("/metrics").DoRaw(ctx); err != nil {
			t.Errorf("%s GET /metrics: %v", name, err)
		}
	}
	body, err := env.Client.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/").DoRaw(ctx)
	if err != nil || !strings.Contains(string(body), "goroutine") {
		t.Errorf("admin GET /debug/pprof/: %v\n%.200s", err, body)
	}
}
