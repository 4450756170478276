package node_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/batchd/batchd/internal/node/runtime"
)

func ephemeral(name, target string, command ...string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox", Command: command, Stdin: true,
			ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile, TerminationMessagePath: "/dev/termination-log"},
		TargetContainerName: target,
	}
}

// addEphemeral adds ec to the pod as kubectl debug does: a strategic merge
// patch of pods/ephemeralcontainers, as client's user.
func addEphemeral(client kubernetes.Interface, ns, name string, ec corev1.EphemeralContainer) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"ephemeralContainers": []corev1.EphemeralContainer{ec}}})
	if err != nil {
		return err
	}
	_, err = client.CoreV1().Pods(ns).Patch(context.Background(), name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "ephemeralcontainers")
	return err
}

func ephemeralState(p *corev1.Pod, name string) corev1.ContainerState {
	for _, s := range p.Status.EphemeralContainerStatuses {
		if s.Name == name {
			return s.State
		}
	}
	return corev1.ContainerState{}
}

func startsOf(pod types.UID, container string) []runtime.Spec {
	var out []runtime.Spec
	for _, s := range rt.Started() {
		if s.ID.Pod == string(pod) && s.ID.Container == container {
			out = append(out, s)
		}
	}
	return out
}

// Ephemeral containers through the API server and the agent, on the fake
// runtime: kubectl debug's patch of pods/ephemeralcontainers, upstream's
// validation and refusals, the container started once joining its
// target, attach to it, its end reported and never restarted, the pod's
// end killing the others, and who may add one.
func TestEphemeralContainers(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	list, err := env.Client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range list.APIResources {
		if r.Name == "pods/ephemeralcontainers" {
			found = true
			if strings.Join(r.Verbs, ",") != "get,patch,update" || r.Kind != "Pod" || !r.Namespaced {
				t.Errorf("discovery: %+v", r)
			}
		}
	}
	if !found {
		t.Error("pods/ephemeralcontainers is not in discovery")
	}
	p := create(t, ns, pod("dbg", corev1.RestartPolicyNever, "sleep 3600"))
	until(t, ns, "dbg", "Running", phase(corev1.PodRunning))

	if err := addEphemeral(env.Client, ns, "dbg", ephemeral("debugger", "c", "sh", "-c", "while read l; do echo $l; done")); err != nil {
		t.Fatal(err)
	}
	got := until(t, ns, "dbg", "debugger running", func(p *corev1.Pod) bool { return ephemeralState(p, "debugger").Running != nil })
	if n := len(got.Status.ContainerStatuses); n != 1 || !got.Status.ContainerStatuses[0].Ready {
		t.Errorf("containerStatuses %+v", got.Status.ContainerStatuses)
	}
	if s := got.Status.EphemeralContainerStatuses[0]; s.Ready || s.ContainerID == "" {
		t.Errorf("ephemeral status %+v", s)
	}
	starts := startsOf(p.UID, "debugger")
	if len(starts) != 1 || starts[0].Join == nil || starts[0].Join.ID.Container != "c" || !starts[0].Join.PID || !starts[0].Stdin {
		t.Fatalf("debugger started as %+v", starts)
	}

	out, _, err := session(t, env.Config, ns, "dbg", &corev1.PodAttachOptions{Container: "debugger", Stdin: true, Stdout: true}, "to the debugger\n")
	if err != nil || out != "to the debugger\n" {
		t.Fatalf("attach: %q, %v", out, err)
	}

	// Ended: reported, never restarted (a second one added later is
	// started by a later look at the pod, which starts no second debugger).
	if err := rt.Exit(string(p.UID), "debugger", 3); err != nil {
		t.Fatal(err)
	}
	got = until(t, ns, "dbg", "debugger terminated", func(p *corev1.Pod) bool { return ephemeralState(p, "debugger").Terminated != nil })
	if term := ephemeralState(got, "debugger").Terminated; term.ExitCode != 3 || term.Reason != "Error" {
		t.Errorf("terminated %+v", term)
	}
	if err := addEphemeral(env.Client, ns, "dbg", ephemeral("second", "", "sleep", "3600")); err != nil {
		t.Fatal(err)
	}
	until(t, ns, "dbg", "second running", func(p *corev1.Pod) bool { return ephemeralState(p, "second").Running != nil })
	if n := len(startsOf(p.UID, "debugger")); n != 1 {
		t.Errorf("debugger started %d times", n)
	}
	if s := startsOf(p.UID, "second"); len(s) != 1 || s[0].Join == nil || s[0].Join.PID {
		t.Errorf("second (no target) started as %+v", s)
	}

	// Upstream's refusals, with their field paths (a strategic merge
	// patch puts the new container first, as on a cluster).
	cur, err := env.Client.CoreV1().Pods(ns).Get(ctx, "dbg", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	withPort := ephemeral("ported", "", "sleep", "1")
	withPort.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	withPort.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	withPort.VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/v", SubPath: "x"}}
	for name, c := range map[string]struct {
		update func() error
		want   []string
	}{
		"fields outside the allow list": {func() error { return addEphemeral(env.Client, ns, "dbg", withPort) }, []string{
			`spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers[0].resources: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers[0].volumeMounts[0].name: Not found: "v"`}},
		"a name taken": {func() error { return addEphemeral(env.Client, ns, "dbg", ephemeral("c", "", "sleep", "1")) },
			[]string{`spec.ephemeralContainers[0].name: Duplicate value: "c"`}},
		"no such target": {func() error { return addEphemeral(env.Client, ns, "dbg", ephemeral("t", "nope", "sleep", "1")) },
			[]string{`spec.ephemeralContainers[0].targetContainerName: Not found: "nope"`}},
		"removed": {func() error {
			u := cur.DeepCopy()
			u.Spec.EphemeralContainers = u.Spec.EphemeralContainers[1:]
			_, err := env.Client.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx, "dbg", u, metav1.UpdateOptions{})
			return err
		}, []string{`spec.ephemeralContainers: Forbidden: existing ephemeral containers "second" may not be removed`}},
		"changed": {func() error {
			u := cur.DeepCopy()
			u.Spec.EphemeralContainers[0].Image = "other"
			_, err := env.Client.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx, "dbg", u, metav1.UpdateOptions{})
			return err
		}, []string{`spec.ephemeralContainers: Forbidden: existing ephemeral containers "second" may not be changed`}},
		"through the pod itself": {func() error {
			u := cur.DeepCopy()
			u.Spec.EphemeralContainers = append(u.Spec.EphemeralContainers, ephemeral("sneaky", "", "sleep", "1"))
			_, err := env.Client.CoreV1().Pods(ns).Update(ctx, u, metav1.UpdateOptions{})
			return err
		}, []string{"spec: Forbidden: pod updates may not change fields other than"}},
		"on create": {func() error {
			np := pod("born-with-one", corev1.RestartPolicyNever, "sleep 1")
			np.Spec.EphemeralContainers = []corev1.EphemeralContainer{ephemeral("e", "", "sleep", "1")}
			_, err := env.Client.CoreV1().Pods(ns).Create(ctx, np, metav1.CreateOptions{})
			return err
		}, []string{"spec.ephemeralContainers: Forbidden: cannot be set on create"}},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.update()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %v\nwant %q", err, w)
				}
			}
		})
	}
	// Only the subresource's own change is taken: a patch through it
	// that also relabels the pod leaves the labels alone.
	if _, err := env.Client.CoreV1().Pods(ns).Patch(ctx, "dbg", types.StrategicMergePatchType,
		[]byte(`{"metadata":{"labels":{"sneaky":"yes"}},"spec":{"activeDeadlineSeconds":5}}`), metav1.PatchOptions{}, "ephemeralcontainers"); err != nil {
		t.Fatal(err)
	}
	if cur, _ := env.Client.CoreV1().Pods(ns).Get(ctx, "dbg", metav1.GetOptions{}); cur.Labels["sneaky"] != "" || cur.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("a write through pods/ephemeralcontainers changed more than them: labels %v, deadline %v", cur.Labels, cur.Spec.ActiveDeadlineSeconds)
	}

	// RBAC as upstream's roles: none of view, edit and admin may add an
	// ephemeral container (upstream keeps pods/ephemeralcontainers out of
	// them on purpose: the subresource bypasses admission written before
	// it existed; kubernetes#109332, #121217). cluster-admin may, above.
	for _, role := range []string{"view", "edit", "admin"} {
		user := role + "-user"
		if _, err := env.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg := restclient.CopyConfig(env.Config)
		cfg.Impersonate = restclient.ImpersonationConfig{UserName: user}
		client := kubernetes.NewForConfigOrDie(cfg)
		// The binding applies once the authorizer's caches saw it: the
		// user reads the pod first, so the refusal is the role's.
		eventually(t, role+" reads the pod", func() bool {
			_, err := client.CoreV1().Pods(ns).Get(ctx, "dbg", metav1.GetOptions{})
			return err == nil
		})
		want := `pods "dbg" is forbidden: User "` + user + `" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace "` + ns + `"`
		if err := addEphemeral(client, ns, "dbg", ephemeral("by-"+role, "", "sleep", "3600")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", role, err, want)
		}
	}

	// The pod's end kills its ephemeral containers; its phase did not wait for them.
	if err := rt.Exit(string(p.UID), "c", 0); err != nil {
		t.Fatal(err)
	}
	got = until(t, ns, "dbg", "Succeeded, second killed", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded && ephemeralState(p, "second").Terminated != nil
	})
	if rt.Running(string(p.UID), "second") {
		t.Error("second still runs")
	}
}
