package node_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// session runs a pods/exec or pods/attach session as cfg's user with
// client-go's SPDY executor (WebSocket is the e2e tests').
func session(t *testing.T, cfg *restclient.Config, ns, name string, o runtime.Object, stdin string) (string, string, error) {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub := "exec"
	if _, ok := o.(*corev1.PodAttachOptions); ok {
		sub = "attach"
	}
	u := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(name).SubResource(sub).VersionedParams(o, scheme.ParameterCodec).URL()
	ex, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	so := remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}
	if stdin != "" {
		so.Stdin = strings.NewReader(stdin)
	}
	err = ex.StreamWithContext(context.Background(), so)
	return stdout.String(), stderr.String(), err
}

func execOpts(container string, stdin bool, argv ...string) *corev1.PodExecOptions {
	return &corev1.PodExecOptions{Container: container, Command: argv, Stdin: stdin, Stdout: true, Stderr: true}
}

// Exec and attach through the API server to the node agent's streaming
// endpoint, on the fake runtime: output, stdin, exit codes, and the API
// server's and the agent's refusals in upstream's words.
func TestExecAndAttachThroughTheAgent(t *testing.T) {
	ns := env.Namespace(t)
	create(t, ns, pod("box", corev1.RestartPolicyNever, "sleep 3600"))
	until(t, ns, "box", "Running", phase(corev1.PodRunning))

	out, _, err := session(t, env.Config, ns, "box", execOpts("", false, "echo", "hi"), "")
	if err != nil || out != "hi\n" {
		t.Fatalf("exec echo: %q, %v", out, err)
	}
	out, _, err = session(t, env.Config, ns, "box", execOpts("c", true, "cat"), "piped\n")
	if err != nil || out != "piped\n" {
		t.Fatalf("exec cat: %q, %v", out, err)
	}
	_, _, err = session(t, env.Config, ns, "box", execOpts("", false, "sh", "-c", "exit 3"), "")
	var exit utilexec.CodeExitError
	if !errors.As(err, &exit) || exit.Code != 3 {
		t.Fatalf("exit 3: %v (%T)", err, err)
	}
	out, _, err = session(t, env.Config, ns, "box", &corev1.PodAttachOptions{Stdin: true, Stdout: true}, "to the container\n")
	if err != nil || out != "to the container\n" {
		t.Fatalf("attach: %q, %v", out, err)
	}

	for _, c := range []struct {
		name string
		pod  *corev1.Pod
		opts runtime.Object
		want string
	}{
		{"no such container", nil, execOpts("nope", false, "true"), "container nope is not valid for pod box"},
		{"no such pod", nil, execOpts("", false, "true"), `pods "ghost" not found`},
		{"container to choose", &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "x", Command: []string{"sleep", "3600"}}, {Name: "b", Image: "x", Command: []string{"sleep", "3600"}}}}},
			execOpts("", false, "true"), "a container name must be specified for pod multi, choose one of: [a b]"},
		{"not bound", &corev1.Pod{Spec: corev1.PodSpec{NodeSelector: map[string]string{"no": "such-node"}, Containers: []corev1.Container{{Name: "c", Image: "x", Command: []string{"sleep", "3600"}}}}},
			execOpts("", false, "true"), "pod pending does not have a host assigned"},
		{"container ended", &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "x", Command: []string{"true"}}}}},
			execOpts("", false, "true"), `container not found ("c")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := map[string]string{"no such container": "box", "no such pod": "ghost", "container to choose": "multi", "not bound": "pending", "container ended": "ended"}[c.name]
			if c.pod != nil {
				c.pod.Name = name
				create(t, ns, c.pod)
				if name == "ended" {
					until(t, ns, name, "Succeeded", phase(corev1.PodSucceeded))
				}
			}
			_, _, err := session(t, env.Config, ns, name, c.opts, "")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}

	// A batchd:view user may not exec; a batchd:edit user may.
	for user, want := range map[string]string{
		"viewer": `pods "box" is forbidden: User "viewer" cannot create resource "pods/exec" in API group "" in the namespace "` + ns + `"`,
		"editor": "",
	} {
		cfg := restclient.AnonymousClientConfig(env.Config)
		cfg.BearerToken = env.Tokens[user]
		out, _, err := session(t, cfg, ns, "box", execOpts("", false, "echo", "as "+user), "")
		switch {
		case want == "" && (err != nil || out != "as "+user+"\n"):
			t.Errorf("%s: %q, %v", user, out, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want %q", user, err, want)
		}
	}
}
