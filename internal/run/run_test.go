package run

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func testJob(name string, cond batchv1.JobConditionType, reason string) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.JobSpec{Completions: ptr.To[int32](3)}}
	j.Status.StartTime = &metav1.Time{Time: t0}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, Reason: reason, Message: "msg of " + reason,
			LastTransitionTime: metav1.NewTime(t0.Add(90 * time.Second))}}
		if cond == batchv1.JobComplete {
			j.Status.Succeeded = 3
			j.Status.CompletionTime = &metav1.Time{Time: t0.Add(90 * time.Second)}
		}
	}
	return j
}

func TestExitCode(t *testing.T) {
	ok, failed := testJob("a", batchv1.JobComplete, "CompletionsReached"), testJob("b", batchv1.JobFailed, "BackoffLimitExceeded")
	if ExitCode([]*batchv1.Job{ok}) != ExitOK || ExitCode([]*batchv1.Job{ok, failed}) != ExitFailed {
		t.Error("exit codes")
	}
}

func TestProgressAndSummary(t *testing.T) {
	running := testJob("work", "", "")
	running.Status.Active, running.Status.Failed = 2, 1
	done := testJob("pi", batchv1.JobComplete, "CompletionsReached")
	lines := Progress([]*batchv1.Job{running, done}, t0.Add(5*time.Minute))
	want := []string{
		"JOB        STATUS     COMPLETIONS   ACTIVE   FAILED   ELAPSED",
		"job/work   Running    0/3           2        1        5m",
		"job/pi     Complete   3/3           0        0        90s",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	failed := testJob("bad", batchv1.JobFailed, "DeadlineExceeded")
	if l := Line(failed); l != "job/bad: Failed, 0/3 completions, 0 active, 0 failed (DeadlineExceeded: msg of DeadlineExceeded)" {
		t.Errorf("line %q", l)
	}
	s := Summary([]*batchv1.Job{done, failed}, t0.Add(5*time.Minute))
	if !strings.Contains(s, "job/pi    Complete   3/3           90s") || !strings.Contains(s, "job/bad failed: DeadlineExceeded: msg of DeadlineExceeded") {
		t.Errorf("summary:\n%s", s)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: c}\n")
	write("a.json", `{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}`)
	write("notes.txt", "ignored")
	objs, err := Load([]string{dir, "-"}, strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stdin}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	if strings.Join(names, " ") != "Secret/a ConfigMap/b Job/c ConfigMap/stdin" {
		t.Errorf("loaded %v", names)
	}
	for _, c := range []struct{ input, want string }{
		{"kind: Job\n  x: : y", "error parsing -"},
		{"metadata: {name: x}\n", `error validating "-": error validating data: [apiVersion not set, kind not set]`},
		{"", "no objects passed to run"},
	} {
		_, err := Load([]string{"-"}, strings.NewReader(c.input))
		var in InputError
		if !errors.As(err, &in) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an InputError with %q", c.input, err, c.want)
		}
	}
	if _, err := Load([]string{filepath.Join(dir, "missing.yaml")}, nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
}
