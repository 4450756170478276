package node

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/node/runtime/runtimetest"
)

// waitFor polls cond for up to 5s (the stop runs in its own goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A container that ignores SIGTERM is killed once the grace period passed
// on the agent's clock, not before; a second stop of it does nothing more.
func TestStopKillsAfterGraceOnTheClock(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	rt := runtimetest.New(t.TempDir(), clk)
	rec := record.NewFakeRecorder(16)
	s := newStopper(rt, clk, newEvents(rec, "n"), nil)
	pod := testPod(corev1.RestartPolicyNever, "c")
	if err := rt.Start(context.Background(), runtime.Spec{ID: runtime.ID{Pod: "uid", Container: "c"}, Argv: []string{"sh", "-c", "trap '' TERM; sleep 1d"}}); err != nil {
		t.Fatal(err)
	}
	s.stop(pod, Kill{Container: "c", Grace: 30 * time.Second})
	s.stop(pod, Kill{Container: "c", Grace: 30 * time.Second})
	waitFor(t, "grace timer", clk.HasWaiters)
	clk.Step(29 * time.Second)
	if !rt.Running("uid", "c") {
		t.Fatal("killed before the grace period")
	}
	clk.Step(time.Second)
	waitFor(t, "killed", func() bool { return !rt.Running("uid", "c") })
	runs, _ := rt.Runs("uid")
	if r := runs["c"][0]; r.ExitCode != 137 || !r.FinishedAt.Equal(t0.Add(30*time.Second)) {
		t.Errorf("run %+v", r)
	}
	if got := drain(rec); len(got) != 1 || got[0] != "Normal Killing Stopping container c" {
		t.Errorf("events %q", got)
	}
}

// A preStop hook runs first, inside the container where the runtime can
// enter it; the time it took comes off the grace period, but at least
// minimumGrace is left.
func TestStopRunsPreStopThenTheRestOfTheGrace(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	rt := runtimetest.New(t.TempDir(), clk)
	s := newStopper(rt, clk, newEvents(record.NewFakeRecorder(16), "n"), nil)
	pod := testPod(corev1.RestartPolicyNever, "c")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo bye"}}}}
	if err := rt.Start(context.Background(), runtime.Spec{ID: runtime.ID{Pod: "uid", Container: "c"}, Argv: []string{"sh", "-c", "trap '' TERM; sleep 1d"}}); err != nil {
		t.Fatal(err)
	}
	s.stop(pod, Kill{Container: "c", Grace: time.Second})
	waitFor(t, "grace timer", clk.HasWaiters)
	if ex := rt.Execs(); len(ex) != 1 || strings.Join(ex[0].Argv, " ") != "sh -c echo bye" {
		t.Fatalf("execs %+v", ex)
	}
	clk.Step(time.Second)
	time.Sleep(10 * time.Millisecond)
	if !rt.Running("uid", "c") {
		t.Fatal("killed before minimumGrace after the hook")
	}
	clk.Step(time.Second)
	waitFor(t, "killed", func() bool { return !rt.Running("uid", "c") })
}
