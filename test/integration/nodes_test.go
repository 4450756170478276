package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apiserver"
	"github.com/batchd/batchd/internal/leader"
	"github.com/batchd/batchd/internal/node/runtime/runtimetest"
	"github.com/batchd/batchd/internal/server"
	"github.com/batchd/batchd/internal/testenv"
)

// startWithAgent starts a server of its own with its scheduler and node
// agent (testenv.NodeName) on a fake runtime, in real time.
func startWithAgent(t *testing.T, adjust func(*server.Config)) *testenv.Env {
	t.Helper()
	dir := t.TempDir()
	e, err := testenv.StartWith(dir, func(c *server.Config) {
		c.DisableNodeAgent, c.DisableScheduler = false, false
		c.NodeName = testenv.NodeName
		c.Node = server.NodeOptions{Runtime: runtimetest.New(dir+"/pods", clock.RealClock{})}
		if adjust != nil {
			adjust(c)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// fakeNode is a Node without an agent: registered through the API, Ready,
// its Lease in kube-node-lease renewed by the test every 500ms until the
// returned stop is called (or the test ends). Pods bound to it stay Pending.
func fakeNode(t *testing.T, c kubernetes.Interface, name string, labels map[string]string) (stop func()) {
	t.Helper()
	ctx := context.Background()
	l := map[string]string{corev1.LabelHostname: name, corev1.LabelOSStable: "linux"}
	for k, v := range labels {
		l[k] = v
	}
	n, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	now := metav1.Now()
	n.Status = corev1.NodeStatus{
		Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status",
			LastHeartbeatTime: now, LastTransitionTime: now}},
	}
	n.Status.Allocatable = n.Status.Capacity
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	renew := func() error {
		leases := c.CoordinationV1().Leases(corev1.NamespaceNodeLease)
		at := metav1.NewMicroTime(time.Now())
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &at}}, metav1.CreateOptions{})
			return err
		}
		l.Spec.RenewTime = &at
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		return err
	}
	if err := renew(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
				_ = renew()
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); <-stopped }) }
	t.Cleanup(stop)
	return stop
}

// TestSchedulerSpreadsABurst: an Indexed Job of 6, parallelism 6, with a
// hostname spread constraint lands 2 pods on each of 3 nodes, though its
// pods are bound in one burst, faster than the informer shows the binds.
func TestSchedulerSpreadsABurst(t *testing.T) {
	e := startWithAgent(t, nil)
	for i := 1; i <= 3; i++ {
		fakeNode(t, e.Client, fmt.Sprintf("spread-%d", i), map[string]string{"pool": "spread"})
	}
	ns := e.Namespace(t)
	j := testenv.Job("six")
	j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](6), ptr.To[int32](6)
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.Template.Spec.NodeSelector = map[string]string{"pool": "spread"}
	j.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.JobNameLabel: "six"}}}}
	if _, err := e.Client.BatchV1().Jobs(ns).Create(context.Background(), j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var perNode map[string]int
	poll(t, "6 pods bound", func(ctx context.Context) (bool, error) {
		pods, err := jobPods(ctx, e.Client, ns, "six")
		if err != nil {
			return false, err
		}
		perNode = map[string]int{}
		bound := 0
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				perNode[p.Spec.NodeName]++
				bound++
			}
		}
		return bound == 6, nil
	})
	for i := 1; i <= 3; i++ {
		if n := perNode[fmt.Sprintf("spread-%d", i)]; n != 2 {
			t.Errorf("pods per node %v, want 2 on each spread node", perNode)
			break
		}
	}
}

func pollFor(t *testing.T, d time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, d, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// preferring is a Job of one pod that prefers node, runs `true` anywhere.
func preferring(name, node string) *batchv1.Job {
	j := testenv.Job(name)
	j.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
		Weight: 100, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}}
	return j
}

func onlyPod(ctx context.Context, c kubernetes.Interface, ns, job string) (*corev1.Pod, error) {
	pods, err := jobPods(ctx, c, ns, job)
	if err != nil || len(pods) != 1 {
		return nil, err
	}
	return &pods[0], nil
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// TestLostNode: two nodes stop renewing their Leases. After the grace
// period they are Unknown with the unreachable taints and their pods not
// ready; after the (short) default toleration the pods get DisruptionTarget
// and are deleted, and stay Terminating: no agent confirms. A Job with the
// default podReplacementPolicy counts its terminating pod failed and
// replaces it at once on the live node, but is Complete only once that pod
// is gone; one with a podFailurePolicy (Ignore on DisruptionTarget,
// backoffLimit 0) waits for a Failed pod. Both end when an admin taints the
// nodes out-of-service: PodGC fails and deletes the pods; the Ignore rule
// keeps the second Job's failure uncounted.
func TestLostNode(t *testing.T) {
	// The in-process agent renews every 10 s: the grace must be longer.
	const grace = 15 * time.Second
	e := startWithAgent(t, func(c *server.Config) {
		c.NodeLifecycle.MonitorPeriod, c.NodeLifecycle.GracePeriod, c.NodeLifecycle.StartupGracePeriod = 200*time.Millisecond, grace, grace
		c.DefaultTolerations = &apiserver.DefaultTolerations{NotReadySeconds: 2, UnreachableSeconds: 3}
		c.PodGCPeriod = 500 * time.Millisecond
	})
	ctx := context.Background()
	stopA := fakeNode(t, e.Client, "lost-a", nil)
	stopB := fakeNode(t, e.Client, "lost-b", nil)
	ns := e.Namespace(t)

	plain := preferring("plain", "lost-a")
	policy := preferring("policy", "lost-b")
	policy.Spec.BackoffLimit = ptr.To[int32](0)
	policy.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}}}}
	for _, j := range []*batchv1.Job{plain, policy} {
		if _, err := e.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Each pod on its lost node, Running and Ready as a kubelet would post.
	lost := map[string]*corev1.Pod{}
	for job, node := range map[string]string{"plain": "lost-a", "policy": "lost-b"} {
		var p *corev1.Pod
		poll(t, job+" pod bound to "+node, func(ctx context.Context) (bool, error) {
			var err error
			p, err = onlyPod(ctx, e.Client, ns, job)
			return p != nil && p.Spec.NodeName != "", err
		})
		if p.Spec.NodeName != node {
			t.Fatalf("%s pod bound to %s, want %s", job, p.Spec.NodeName, node)
		}
		// DefaultTolerationSeconds gave it the two tolerations, with the flags' seconds.
		want := map[string]int64{corev1.TaintNodeNotReady: 2, corev1.TaintNodeUnreachable: 3}
		for _, tol := range p.Spec.Tolerations {
			if s, ok := want[tol.Key]; ok && tol.Effect == corev1.TaintEffectNoExecute && tol.Operator == corev1.TolerationOpExists && ptr.Deref(tol.TolerationSeconds, -1) == s {
				delete(want, tol.Key)
			}
		}
		if len(want) > 0 {
			t.Errorf("%s pod tolerations %+v lack the defaults %v", job, p.Spec.Tolerations, want)
		}
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now})
		up, err := e.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lost[job] = up
	}

	stopA()
	stopB()
	lostAt := time.Now()
	for _, name := range []string{"lost-a", "lost-b"} {
		pollFor(t, grace+20*time.Second, name+" Unknown and tainted", func(ctx context.Context) (bool, error) {
			n, err := e.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			var ready *corev1.NodeCondition
			for i := range n.Status.Conditions {
				if n.Status.Conditions[i].Type == corev1.NodeReady {
					ready = &n.Status.Conditions[i]
				}
			}
			if ready == nil || ready.Status != corev1.ConditionUnknown {
				return false, nil
			}
			if ready.Reason != "NodeStatusUnknown" || ready.Message != "Kubelet stopped posting node status." {
				t.Fatalf("%s Ready: %+v", name, ready)
			}
			found := 0
			for _, taint := range n.Spec.Taints {
				if taint.Key == corev1.TaintNodeUnreachable && (taint.Effect == corev1.TaintEffectNoSchedule || (taint.Effect == corev1.TaintEffectNoExecute && taint.TimeAdded != nil)) {
					found++
				}
			}
			return found == 2, nil
		})
	}
	if d := time.Since(lostAt); d < grace-time.Second {
		t.Errorf("nodes lost after %s, before the grace period %s", d, grace)
	}
	t.Logf("nodes Unknown and tainted %s after their last renewal (grace %s)", time.Since(lostAt).Round(10*time.Millisecond), grace)
	// Marked not ready, then evicted with the DisruptionTarget condition.
	for job, p := range lost {
		pollFor(t, 30*time.Second, job+" pod not ready, then evicted", func(ctx context.Context) (bool, error) {
			cur, err := e.Client.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if c := podCondition(cur, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse {
				return false, nil
			}
			d := podCondition(cur, corev1.DisruptionTarget)
			if d == nil || cur.DeletionTimestamp == nil {
				return false, nil
			}
			if d.Reason != "DeletionByTaintManager" || d.Message != "Taint manager: deleting due to NoExecute taint" {
				t.Fatalf("%s DisruptionTarget: %+v", job, d)
			}
			return true, nil
		})
	}
	t.Logf("pods evicted %s after the last renewal (toleration 3 s)", time.Since(lostAt).Round(10*time.Millisecond))
	// The default policy replaces the terminating pod on the live node.
	waitJob := func(name string, check func(*batchv1.Job) bool) *batchv1.Job {
		var j *batchv1.Job
		err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			var err error
			j, err = e.Client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			return err == nil && check(j), err
		})
		if err != nil {
			pods, _ := jobPods(ctx, e.Client, ns, name)
			for _, p := range pods {
				t.Logf("pod %s on %q: %s deleting=%v conditions %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp != nil, p.Status.Conditions)
			}
			t.Fatalf("%s complete: %v; status %+v", name, err, j.Status)
		}
		return j
	}
	complete := func(j *batchv1.Job) bool { return jobCondition(j, batchv1.JobComplete) != nil }
	// Replaced at once; counted failed; its success criteria are met, but
	// it is not Complete while its lost pod is still terminating (upstream
	// since 1.31 waits for every pod to be gone).
	j := waitJob("plain", func(j *batchv1.Job) bool {
		return j.Status.Succeeded == 1 && jobCondition(j, batchv1.JobSuccessCriteriaMet) != nil
	})
	t.Logf("replacement succeeded %s after the last renewal", time.Since(lostAt).Round(10*time.Millisecond))
	if j.Status.Failed != 1 || ptr.Deref(j.Status.Terminating, 0) != 1 || complete(j) {
		t.Errorf("plain: failed %d terminating %d complete %v; want 1, 1 and not yet", j.Status.Failed, ptr.Deref(j.Status.Terminating, 0), complete(j))
	}
	pods, err := jobPods(ctx, e.Client, ns, "plain")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if p.Name != lost["plain"].Name && p.Spec.NodeName != testenv.NodeName {
			t.Errorf("replacement %s on %s, want %s", p.Name, p.Spec.NodeName, testenv.NodeName)
		}
	}
	// The podFailurePolicy Job waits for a Failed pod: none while it is
	// terminating on a node that may come back.
	j, err = e.Client.BatchV1().Jobs(ns).Get(ctx, "policy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := jobPods(ctx, e.Client, ns, "policy"); len(n) != 1 || ptr.Deref(j.Status.Terminating, 0) != 1 {
		t.Errorf("policy: %d pods, terminating %d; want the one terminating pod only", len(n), ptr.Deref(j.Status.Terminating, 0))
	}
	// The admin says both machines are gone for good: PodGC fails and
	// removes their pods.
	for _, name := range []string{"lost-a", "lost-b"} {
		n, err := e.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute})
		if _, err := e.Client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	oosAt := time.Now()
	j = waitJob("plain", complete)
	t.Logf("plain Complete %s after the out-of-service taint", time.Since(oosAt).Round(10*time.Millisecond))
	if j.Status.Succeeded != 1 || j.Status.Failed != 1 {
		t.Errorf("plain: succeeded %d failed %d, want 1 and 1 (the evicted pod counts failed)", j.Status.Succeeded, j.Status.Failed)
	}
	j = waitJob("policy", complete)
	if j.Status.Succeeded != 1 || j.Status.Failed != 0 {
		t.Errorf("policy: succeeded %d failed %d, want 1 and 0 (Ignore: the disrupted pod does not count)", j.Status.Succeeded, j.Status.Failed)
	}
}

// TestAgentComesBack: a server whose node agent stops (its containers run
// on) while another server leads the controllers. Its node is found lost,
// one pod is evicted and another force-deleted meanwhile. When the agent
// starts again on the same runtime, it stops the containers of both, confirms
// the eviction, reports the pod it still has (Ready again, its container
// not restarted), and the node is Ready with its taints gone.
func TestAgentComesBack(t *testing.T) {
	ctx := context.Background()
	dir, endpoint := outlivingEtcd(t, "comeback-etcd-")
	const grace = 15 * time.Second // longer than the agent's 10 s renewals
	common := func(c *server.Config) {
		c.EtcdServers = []string{endpoint}
		c.LeaderElection = shortLeases
		c.NodeLifecycle.MonitorPeriod, c.NodeLifecycle.GracePeriod, c.NodeLifecycle.StartupGracePeriod = 200*time.Millisecond, grace, grace
		c.DefaultTolerations = &apiserver.DefaultTolerations{NotReadySeconds: 2, UnreachableSeconds: 2}
		c.DisableScheduler = false // testenv's default: tests that bind pods by hand
	}
	// a leads the controllers and runs no agent.
	a, err := testenv.StartWith(t.TempDir(), common)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop() })
	waitHolder(t, a.Client, leader.ControllerManager, identityOf(t, a))

	rt := runtimetest.New(filepath.Join(dir, "pods"), clock.RealClock{})
	bDir := t.TempDir()
	startB := func() *testenv.Env {
		b, err := testenv.StartWith(bDir, func(c *server.Config) {
			common(c)
			c.DisableNodeAgent, c.NodeName = false, testenv.NodeName
			c.Node = server.NodeOptions{Runtime: rt, Clock: clock.RealClock{}}
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := startB()
	bStopped := false
	t.Cleanup(func() {
		if !bStopped {
			_ = b.Stop()
		}
	})

	ns := a.Namespace(t)
	pods := map[string]*corev1.Pod{}
	for _, name := range []string{"kept", "evicted", "deleted"} {
		p := testenv.Pod(name)
		p.Spec.Containers[0].Command = []string{"sh", "-c", "sleep 1000"}
		if name == "kept" {
			// Tolerates the lost node forever: it stays bound.
			p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
		}
		if _, err := a.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"kept", "evicted", "deleted"} {
		pollFor(t, 60*time.Second, name+" running", func(ctx context.Context) (bool, error) {
			p, err := a.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			pods[name] = p
			return p.Status.Phase == corev1.PodRunning && rt.Running(string(p.UID), "c"), nil
		})
	}
	keptStarts := len(rt.Started())

	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	bStopped = true
	pollFor(t, grace+30*time.Second, "node lost", func(ctx context.Context) (bool, error) {
		n, err := a.Client.CoreV1().Nodes().Get(ctx, testenv.NodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, taint := range n.Spec.Taints {
			if taint.Key == corev1.TaintNodeUnreachable && taint.Effect == corev1.TaintEffectNoExecute {
				return true, nil
			}
		}
		return false, nil
	})
	pollFor(t, 30*time.Second, "evicted pod being deleted", func(ctx context.Context) (bool, error) {
		p, err := a.Client.CoreV1().Pods(ns).Get(ctx, "evicted", metav1.GetOptions{})
		return err == nil && p.DeletionTimestamp != nil, err
	})
	if err := a.Client.CoreV1().Pods(ns).Delete(ctx, "deleted", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kept", "evicted", "deleted"} {
		if !rt.Running(string(pods[name].UID), "c") {
			t.Fatalf("%s stopped while its agent was away", name)
		}
	}

	b = startB()
	bStopped = false
	for _, name := range []string{"evicted", "deleted"} {
		uid := string(pods[name].UID)
		pollFor(t, 30*time.Second, name+"'s container stopped and forgotten", func(ctx context.Context) (bool, error) {
			have, err := rt.Pods()
			return !rt.Running(uid, "c") && !slices.Contains(have, uid), err
		})
	}
	pollFor(t, 30*time.Second, "evicted pod gone", func(ctx context.Context) (bool, error) {
		_, err := a.Client.CoreV1().Pods(ns).Get(ctx, "evicted", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	pollFor(t, 30*time.Second, "kept ready again, node ready and untainted", func(ctx context.Context) (bool, error) {
		p, err := a.Client.CoreV1().Pods(ns).Get(ctx, "kept", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if c := podCondition(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue || p.Status.Phase != corev1.PodRunning {
			return false, nil
		}
		n, err := a.Client.CoreV1().Nodes().Get(ctx, testenv.NodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				return false, nil
			}
		}
		for _, taint := range n.Spec.Taints {
			if taint.Key == corev1.TaintNodeUnreachable || taint.Key == corev1.TaintNodeNotReady {
				return false, nil
			}
		}
		return true, nil
	})
	if !rt.Running(string(pods["kept"].UID), "c") || len(rt.Started()) != keptStarts {
		t.Errorf("kept's container restarted (%d starts, had %d)", len(rt.Started()), keptStarts)
	}
}
