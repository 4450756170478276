package node_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchd/batchd/internal/node/runtime/runtimetest"
	"github.com/batchd/batchd/internal/server"
	"github.com/batchd/batchd/internal/testenv"
)

// The agent's in-process tests: a real API server (testenv) with the node
// agent on a fake runtime and a fake clock. Pods run in milliseconds, and
// time (back-offs, grace periods) passes when a test steps the clock.
var (
	env   *testenv.Env
	rt    *runtimetest.Fake
	clock *clocktesting.FakeClock
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "batchd-node-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		clock = clocktesting.NewFakeClock(time.Now())
		rt = runtimetest.New(dir+"/pods", clock)
		env, err = testenv.StartWithNode(dir, server.NodeOptions{Runtime: rt, Clock: clock})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer env.Stop()
		return m.Run()
	}())
}

func pod(name string, policy corev1.RestartPolicy, command string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{RestartPolicy: policy,
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", command}}}},
	}
}

func create(t *testing.T, ns string, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	// A pod's service-account volume projects kube-root-ca.crt, which the
	// root CA publisher writes into a new namespace shortly after it is
	// made; without it the volume cannot be set up and the pod stays
	// ContainerCreating until the agent retries, on the agent's (fake)
	// clock here, which nothing steps in most tests.
	eventually(t, "kube-root-ca.crt in "+ns, func() bool {
		_, err := env.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil
	})
	p, err := env.Client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// until polls the pod until cond holds (real time: the API and the agent's
// workers; the clock does not move by itself).
func until(t *testing.T, ns, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return cond(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s: %s: %v; last status %+v", name, what, err, last.Status)
	}
	return last
}

func phase(want corev1.PodPhase) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.Status.Phase == want }
}

// eventually polls cond (real time) for up to 20s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func events(t *testing.T, ns, name string) string {
	t.Helper()
	list, err := env.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range list.Items {
		fmt.Fprintf(&b, "%s %s %s\n", e.Type, e.Reason, e.Message)
	}
	return b.String()
}

// A pod is scheduled, started (Running, ready), and Succeeded once its
// container exits 0, with the kubelet's events.
func TestPodLifecycle(t *testing.T) {
	ns := env.Namespace(t)
	p := create(t, ns, pod("life", corev1.RestartPolicyNever, "sleep 3600"))
	p = until(t, ns, "life", "Running and ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	})
	if p.Spec.NodeName != testenv.NodeName || p.Status.StartTime == nil || p.Status.ContainerStatuses[0].State.Running == nil {
		t.Fatalf("pod %+v", p)
	}
	if err := rt.Exit(string(p.UID), "c", 0); err != nil {
		t.Fatal(err)
	}
	p = until(t, ns, "life", "Succeeded", phase(corev1.PodSucceeded))
	if term := p.Status.ContainerStatuses[0].State.Terminated; term == nil || term.Reason != "Completed" || term.ExitCode != 0 {
		t.Errorf("container state %+v", p.Status.ContainerStatuses[0].State)
	}
	for _, want := range []string{"Normal Scheduled Successfully assigned " + ns + "/life to " + testenv.NodeName, "Normal Created Created container: c", "Normal Started Started container c"} {
		eventually(t, "event "+want, func() bool { return strings.Contains(events(t, ns, "life"), want) })
	}
}

// With restartPolicy OnFailure a failing container restarts in place: at
// once the first time, then after the kubelet's back-off (10s, 20s …),
// which passes when the clock is stepped, not in real time.
func TestRestartBackOff(t *testing.T) {
	ns := env.Namespace(t)
	p := create(t, ns, pod("flaky", corev1.RestartPolicyOnFailure, "exit 3"))
	p = until(t, ns, "flaky", "CrashLoopBackOff after one restart", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff"
	})
	cs := p.Status.ContainerStatuses[0]
	if last := cs.LastTerminationState.Terminated; last == nil || last.ExitCode != 3 || last.Reason != "Error" {
		t.Errorf("last state %+v", cs.LastTerminationState)
	}
	if !strings.Contains(cs.State.Waiting.Message, "back-off 10s restarting failed container=c") {
		t.Errorf("waiting %+v", cs.State.Waiting)
	}
	clock.Step(9 * time.Second)
	time.Sleep(50 * time.Millisecond)
	if runs, _ := rt.Runs(string(p.UID)); len(runs["c"]) != 2 {
		t.Fatalf("restarted within the back-off: %d runs", len(runs["c"]))
	}
	clock.Step(time.Second)
	until(t, ns, "flaky", "restarted after 10s, backing off 20s", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 2 && cs[0].State.Waiting != nil && strings.Contains(cs[0].State.Waiting.Message, "back-off 20s")
	})
	eventually(t, "BackOff event", func() bool {
		return strings.Contains(events(t, ns, "flaky"), "Warning BackOff Back-off restarting failed container c in pod flaky_"+ns)
	})
}

// A deleted pod's container that ignores SIGTERM is killed once the grace
// period passed on the clock, after its preStop hook ran inside it; then
// the pod object and its state are gone.
func TestDeletionWaitsOutTheGracePeriod(t *testing.T) {
	ns := env.Namespace(t)
	p := pod("stubborn", corev1.RestartPolicyNever, "trap '' TERM; sleep 3600")
	grace := int64(30)
	p.Spec.TerminationGracePeriodSeconds = &grace
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"echo", "bye"}}}}
	p = create(t, ns, p)
	until(t, ns, "stubborn", "Running", phase(corev1.PodRunning))
	if err := env.Client.CoreV1().Pods(ns).Delete(context.Background(), "stubborn", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Killing event", func() bool { return strings.Contains(events(t, ns, "stubborn"), "Killing Stopping container c") })
	time.Sleep(100 * time.Millisecond)
	if !rt.Running(string(p.UID), "c") {
		t.Fatal("killed before the grace period passed")
	}
	began := clock.Now()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().Pods(ns).Get(ctx, "stubborn", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		clock.Step(5 * time.Second)
		return false, nil
	})
	if err != nil {
		t.Fatalf("pod not removed: %v", err)
	}
	if took := clock.Since(began); took < 30*time.Second {
		t.Errorf("removed after %v of the clock, before the grace period", took)
	}
	if rt.Running(string(p.UID), "c") {
		t.Error("container still runs")
	}
	found := false
	for _, e := range rt.Execs() {
		found = found || (e.ID.Pod == string(p.UID) && strings.Join(e.Argv, " ") == "echo bye")
	}
	if !found {
		t.Errorf("preStop hook not run: %+v", rt.Execs())
	}
	// The object goes first, then the worker removes the pod's state.
	eventually(t, "pod directory removed", func() bool {
		_, err := os.Stat(rt.PodDir(string(p.UID)))
		return os.IsNotExist(err)
	})
}

// Init containers run one after the other to completion before the app
// container; one that fails under restartPolicy Never fails the pod and
// the app container never starts.
func TestInitContainers(t *testing.T) {
	ns := env.Namespace(t)
	p := pod("inits", corev1.RestartPolicyNever, "sleep 3600")
	p.Spec.InitContainers = []corev1.Container{
		{Name: "first", Image: "busybox", Command: []string{"true"}},
		{Name: "second", Image: "busybox", Command: []string{"sh", "-c", "echo prepared"}},
	}
	p = create(t, ns, p)
	p = until(t, ns, "inits", "Running", phase(corev1.PodRunning))
	var order []string
	for _, s := range rt.Started() {
		if s.ID.Pod == string(p.UID) {
			order = append(order, s.ID.Container)
		}
	}
	if strings.Join(order, ",") != "first,second,c" {
		t.Errorf("start order %v", order)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodInitialized && c.Status != corev1.ConditionTrue {
			t.Errorf("Initialized %+v", c)
		}
	}

	bad := pod("bad-init", corev1.RestartPolicyNever, "sleep 3600")
	bad.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "busybox", Command: []string{"sh", "-c", "exit 2"}}}
	bad = create(t, ns, bad)
	bad = until(t, ns, "bad-init", "Failed", phase(corev1.PodFailed))
	if term := bad.Status.InitContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 2 {
		t.Errorf("init status %+v", bad.Status.InitContainerStatuses)
	}
	if runs, _ := rt.Runs(string(bad.UID)); len(runs["c"]) != 0 {
		t.Errorf("the app container ran: %+v", runs)
	}
}

// A running pod's projected service-account token (kube-api-access-*) is
// requested by the agent and written into the volume; it is replaced once
// 80% of its lifetime passed on the clock, while the pod runs on.
func TestServiceAccountTokenIsRotated(t *testing.T) {
	ns := env.Namespace(t)
	eventually(t, "default service account", func() bool {
		_, err := env.Client.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil
	})
	p := create(t, ns, pod("reader", corev1.RestartPolicyNever, "sleep 3600"))
	var vol string
	for _, v := range p.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			vol = v.Name
		}
	}
	if vol == "" {
		t.Fatalf("no kube-api-access volume: %+v", p.Spec.Volumes)
	}
	until(t, ns, "reader", "Running", phase(corev1.PodRunning))
	path := rt.PodDir(string(p.UID)) + "/volumes/" + vol + "/token"
	read := func() string { b, _ := os.ReadFile(path); return string(b) }
	first := read()
	if strings.Count(first, ".") != 2 {
		t.Fatalf("token file %q is no JWT", first)
	}
	// The admission's expirationSeconds is 3607: refreshed after 48 minutes.
	clock.Step(40 * time.Minute)
	time.Sleep(50 * time.Millisecond) // let a wrong early refresh show
	if read() != first {
		t.Fatal("token replaced before 80% of its lifetime")
	}
	minutes := 40
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		if second := read(); second != first && second != "" {
			return true, nil
		}
		if minutes < 50 {
			clock.Step(time.Minute)
			minutes++
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("token not rotated by minute %d of its hour: %v", minutes, err)
	}
	if cur := until(t, ns, "reader", "still running", phase(corev1.PodRunning)); cur.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Error("the container restarted")
	}
}
