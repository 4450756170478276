//go:build campaign

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/batchd/batchd/internal/leader"
)

// Short node-lifecycle timing for the servers of TestServersAndAgentsSurviveKills:
// an agent renews its Lease every 10 s, so the grace must stay above that.
var lostNodeFlags = []string{"--node-monitor-grace-period=15s", "--node-monitor-period=500ms",
	"--default-unreachable-toleration-seconds=3", "--default-not-ready-toleration-seconds=3"}

// Issue 20's scenario on one machine: three clustered servers on 127.0.0.1-3
// (no agents of their own) and two agents on 127.0.0.4 and 127.0.0.5.
//   - An Indexed Job of 30 completions spreads over both agents; kill -9 of
//     the leading server mid-Job: another server's controllers take over and
//     the Job completes with succeeded 30, every index once, no pod twice.
//   - kill -9 of an agent: after the grace its Node is Unknown with the
//     unreachable taints, after the toleration its pods are evicted
//     (DisruptionTarget) and replaced on the other agent; once the agent
//     returns and lets its deleted pods go, the Job is Complete with those
//     counted failed, as upstream.
func TestServersAndAgentsSurviveKills(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := formCluster(t, append([]string{"--disable-agent"}, lostNodeFlags...)...)
	token, err := os.ReadFile(filepath.Join(cl.dirs[0], "token"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	// Joined through the second and third servers: the first, which leads
	// (it started the cluster), is the one killed below.
	agents := []struct{ name, ip, server, dir string }{
		{"h1", "127.0.0.4", serverURL(t, cl.procs[1].Kubeconfig), filepath.Join(root, "h1")},
		{"h2", "127.0.0.5", serverURL(t, cl.procs[2].Kubeconfig), filepath.Join(root, "h2")},
	}
	agentArgs := func(i int) []string {
		a := agents[i]
		return []string{"--server", a.server, "--token", strings.TrimSpace(string(token)), "--node-name", a.name, "--bind-address", a.ip}
	}
	h2 := startAgent(t, agents[1].dir, agentArgs(1)...)
	startAgent(t, agents[0].dir, agentArgs(0)...)
	c := func() kubernetes.Interface { return cl.clients[1] } // a server never killed here
	nodeReady := func(ctx context.Context, name string) corev1.ConditionStatus {
		n, err := c().CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status
			}
		}
		return ""
	}
	waitWithin(t, "both agents Ready", time.Minute, func(ctx context.Context) bool {
		return nodeReady(ctx, "h1") == corev1.ConditionTrue && nodeReady(ctx, "h2") == corev1.ConditionTrue
	})
	ns := "multinode"
	if _, err := c().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	jobPods := func(ctx context.Context, job string) []corev1.Pod {
		l, err := c().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
		if err != nil {
			return nil
		}
		return l.Items
	}
	complete := func(job string) func(context.Context) bool {
		return func(ctx context.Context) bool {
			j, err := c().BatchV1().Jobs(ns).Get(ctx, job, metav1.GetOptions{})
			if err != nil {
				return false
			}
			for _, cond := range j.Status.Conditions {
				if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
					return true
				}
			}
			return false
		}
	}

	// An Indexed Job of 30 across both agents; the leading server killed mid-Job.
	apply := func(manifest string) {
		t.Helper()
		must(t, runKubectl(t, batchd, []string{"kubectl", "--kubeconfig", cl.procs[1].Kubeconfig, "apply", "-n", ns, "-f", "-"}, manifest), "created")
	}
	apply(`apiVersion: batch/v1
kind: Job
metadata: {name: spread}
spec:
  completions: 30
  parallelism: 6
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: busybox, command: ["sh", "-c", "sleep 1; echo index $JOB_COMPLETION_INDEX"]}]
`)
	waitWithin(t, "6 completions", 2*time.Minute, func(ctx context.Context) bool {
		j, err := c().BatchV1().Jobs(ns).Get(ctx, "spread", metav1.GetOptions{})
		return err == nil && j.Status.Succeeded >= 6
	})
	holder := leaseHolder(ctx, c(), leader.ControllerManager)
	killed := -1
	for i := range cl.dirs {
		if identityIn(t, cl.dirs[i]) == holder {
			killed = i
		}
	}
	if killed < 0 {
		t.Fatalf("lease holder %q is none of the servers", holder)
	}
	cl.kill(killed)
	took := waitWithin(t, "another server leads", 30*time.Second, func(ctx context.Context) bool {
		h := leaseHolder(ctx, cl.clients[(killed+1)%3], leader.ControllerManager)
		return h != "" && h != holder
	})
	t.Logf("server %d (leader) killed mid-Job; another leads after %s", killed, took.Round(time.Millisecond))
	cl.restart(t, killed)
	waitWithin(t, "the Indexed Job Complete", 3*time.Minute, complete("spread"))
	j, err := c().BatchV1().Jobs(ns).Get(ctx, "spread", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Succeeded != 30 || j.Status.CompletedIndexes != "0-29" {
		t.Errorf("spread: succeeded %d, completedIndexes %q", j.Status.Succeeded, j.Status.CompletedIndexes)
	}
	perNode, perIndex := map[string]int{}, map[string]int{}
	for _, p := range jobPods(ctx, "spread") {
		if p.Status.Phase == corev1.PodSucceeded {
			perNode[p.Spec.NodeName]++
			perIndex[p.Annotations[batchv1.JobCompletionIndexAnnotation]]++
		}
	}
	for idx, n := range perIndex {
		if n != 1 {
			t.Errorf("index %s succeeded in %d pods", idx, n)
		}
	}
	if len(perIndex) != 30 || perNode["h1"] == 0 || perNode["h2"] == 0 {
		t.Errorf("succeeded pods per node %v, %d indexes", perNode, len(perIndex))
	}
	t.Logf("Indexed Job of 30: succeeded pods per node %v", perNode)

	// An agent lost: its pods evicted and replaced on the other one.
	apply(`apiVersion: batch/v1
kind: Job
metadata: {name: lost}
spec:
  completions: 4
  parallelism: 4
  template:
    metadata: {labels: {app: lost}}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: lost}}}
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "if [ \"$NODE\" = h2 ]; then sleep 3600; fi; echo done on $NODE"]
        env: [{name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
`)
	var onH2 []string
	waitWithin(t, "two pods running on h2, two done on h1", 2*time.Minute, func(ctx context.Context) bool {
		onH2 = nil
		done := 0
		for _, p := range jobPods(ctx, "lost") {
			switch {
			case p.Spec.NodeName == "h2" && p.Status.Phase == corev1.PodRunning:
				onH2 = append(onH2, p.Name)
			case p.Spec.NodeName == "h1" && p.Status.Phase == corev1.PodSucceeded:
				done++
			}
		}
		return len(onH2) == 2 && done == 2
	})
	_ = h2.Process.Kill()
	killedAt := time.Now()
	waitWithin(t, "h2 Unknown with the unreachable taints", time.Minute, func(ctx context.Context) bool {
		n, err := c().CoreV1().Nodes().Get(ctx, "h2", metav1.GetOptions{})
		if err != nil || nodeReady(ctx, "h2") != corev1.ConditionUnknown {
			return false
		}
		taints := 0
		for _, tn := range n.Spec.Taints {
			if tn.Key == corev1.TaintNodeUnreachable {
				taints++
			}
		}
		return taints == 2
	})
	t.Logf("h2 Unknown and tainted %s after its agent was killed", time.Since(killedAt).Round(100*time.Millisecond))
	waitWithin(t, "h2's pods evicted with DisruptionTarget", time.Minute, func(ctx context.Context) bool {
		evicted := 0
		for _, p := range jobPods(ctx, "lost") {
			for _, cond := range p.Status.Conditions {
				if p.Spec.NodeName == "h2" && p.DeletionTimestamp != nil && cond.Type == corev1.DisruptionTarget &&
					cond.Status == corev1.ConditionTrue && cond.Reason == "DeletionByTaintManager" {
					evicted++
				}
			}
		}
		return evicted == 2
	})
	waitWithin(t, "replacements done on h1", time.Minute, func(ctx context.Context) bool {
		done := 0
		for _, p := range jobPods(ctx, "lost") {
			if p.Spec.NodeName == "h1" && p.Status.Phase == corev1.PodSucceeded {
				done++
			}
		}
		return done == 4
	})
	// The evicted pods stay Terminating while their node is away (as
	// upstream): the agent, back, stops their containers and lets them go.
	startAgent(t, agents[1].dir, agentArgs(1)...)
	waitWithin(t, "the lost Job Complete once h2 returned", 2*time.Minute, complete("lost"))
	lost, err := c().BatchV1().Jobs(ns).Get(ctx, "lost", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lost.Status.Succeeded != 4 || lost.Status.Failed != 2 {
		t.Errorf("lost: succeeded %d failed %d, want 4 and 2 (the evicted pods)", lost.Status.Succeeded, lost.Status.Failed)
	}
	for _, p := range jobPods(ctx, "lost") {
		for _, name := range onH2 {
			if p.Name == name {
				t.Errorf("evicted pod %s still there once its node returned: %s", name, fmt.Sprint(p.Status.Phase))
			}
		}
	}
	waitWithin(t, "h2 Ready again", time.Minute, func(ctx context.Context) bool { return nodeReady(ctx, "h2") == corev1.ConditionTrue })
}
