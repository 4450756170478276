package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
)

func runsAs(t *testing.T, writer bool) *v1alpha1.Client {
	t.Helper()
	cfg := env.Config
	if writer {
		cfg = env.Loopback
	}
	c, err := v1alpha1.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sampleRun(name string) *v1alpha1.JobRun {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	return &v1alpha1.JobRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1alpha1.CronJobNameLabel: "nightly"}},
		Spec:       v1alpha1.JobRunSpec{JobName: name, JobUID: "u-1", CronJobName: "nightly", ScheduledTime: &now, Completions: ptr.To[int32](1)},
		Status: v1alpha1.JobRunStatus{Outcome: v1alpha1.OutcomeFailed, Reason: "BackoffLimitExceeded", StartTime: &now, CompletionTime: &now, Failed: 1,
			Attempts: []v1alpha1.Attempt{{PodName: name + "-x", PodUID: types.UID("p-1"), Container: "main", Attempt: 0, ExitCode: ptr.To[int32](3), Reason: "Error"}}},
	}
}

// TestJobRunsServed: batchd.dev/v1alpha1 jobruns is discovered with its short
// name, the server's identity writes it, users read it (object and table)
// and every user write — the admin's too — gets upstream's 403.
func TestJobRunsServed(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	list, err := env.Client.Discovery().ServerResourcesForGroupVersion("batchd.dev/v1alpha1")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var found bool
	for _, r := range list.APIResources {
		if r.Name == "jobruns" {
			found = true
			if !r.Namespaced || r.Kind != "JobRun" || !strings.Contains(strings.Join(r.ShortNames, ","), "runs") {
				t.Errorf("jobruns discovery: %+v", r)
			}
		}
	}
	if !found {
		t.Fatalf("jobruns not discovered: %+v", list.APIResources)
	}

	writer, reader := runsAs(t, true), runsAs(t, false)
	if _, err := writer.JobRuns(ns).Create(ctx, sampleRun("etl-1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("writer create: %v", err)
	}
	got, err := reader.JobRuns(ns).Get(ctx, "etl-1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("admin get: %v", err)
	}
	if got.Status.Outcome != v1alpha1.OutcomeFailed || len(got.Status.Attempts) != 1 || *got.Status.Attempts[0].ExitCode != 3 {
		t.Errorf("stored run: %+v", got.Status)
	}

	_, err = reader.JobRuns(ns).Create(ctx, sampleRun("etl-2"), metav1.CreateOptions{})
	want := `jobruns.batchd.dev is forbidden: User "batchd-admin" cannot create resource "jobruns" in API group "batchd.dev" in the namespace "` + ns + `"`
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("admin create: %v, want 403 %q", err, want)
	}
	err = reader.JobRuns(ns).Delete(ctx, "etl-1", metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("admin delete: %v, want 403", err)
	}
	got.Status.Outcome = v1alpha1.OutcomeSucceeded
	if _, err := reader.JobRuns(ns).Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("admin update: %v, want 403", err)
	}
	if _, err := reader.JobRuns(ns).Patch(ctx, "etl-1", types.MergePatchType, []byte(`{"status":{"outcome":"Succeeded"}}`)); !apierrors.IsForbidden(err) {
		t.Errorf("admin patch: %v, want 403", err)
	}
	editor, err := env.As("editor")
	if err != nil {
		t.Fatal(err)
	}
	err = editor.CoreV1().RESTClient().Delete().AbsPath("/apis/batchd.dev/v1alpha1/namespaces", ns, "jobruns").Do(ctx).Error()
	if !apierrors.IsForbidden(err) {
		t.Errorf("editor deletecollection: %v, want 403", err)
	}

	raw, err := env.Client.CoreV1().RESTClient().Get().AbsPath("/apis/batchd.dev/v1alpha1/namespaces", ns, "jobruns").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		t.Fatalf("table: %v", err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, c.Name)
		}
	}
	if strings.Join(cols, " ") != "Name CronJob Outcome Completions Scheduled Duration Age" {
		t.Errorf("columns %v", cols)
	}
	if len(table.Rows) != 1 || table.Rows[0].Cells[2] != "Failed (BackoffLimitExceeded)" || table.Rows[0].Cells[3] != "0/1" {
		t.Errorf("rows %+v", table.Rows)
	}

	// Protobuf-preferring clients (the controllers' defaults) get JSON.
	raw, err = env.Client.CoreV1().RESTClient().Get().AbsPath("/apis/batchd.dev/v1alpha1/namespaces", ns, "jobruns", "etl-1").
		SetHeader("Accept", "application/vnd.kubernetes.protobuf, application/json").DoRaw(ctx)
	if err != nil || !strings.Contains(string(raw), `"kind":"JobRun"`) {
		t.Errorf("protobuf-first get: %v %s", err, raw)
	}
}
