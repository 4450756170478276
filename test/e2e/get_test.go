package e2e

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/jsonpath"
)

// The state tests wait on is read through the API, not with a kubectl
// process per look: a test waiting 10 s started a hundred of them, a
// quarter of a CPU-second each on a loaded machine, and the six tests
// running side by side kept a core busy doing only that. What kubectl
// prints is tested where it is the subject.
var (
	readerOnce sync.Once
	reader     dynamic.Interface
	readerErr  error
)

// getResources: the objects the tests read this way, by the name kubectl
// takes ("pod/NAME", or "pods" for the namespace's list).
var getResources = map[string]schema.GroupVersionResource{
	"pod": {Version: "v1", Resource: "pods"}, "pods": {Version: "v1", Resource: "pods"},
	"job": {Group: "batch", Version: "v1", Resource: "jobs"}, "jobs": {Group: "batch", Version: "v1", Resource: "jobs"},
	"cronjob": {Group: "batch", Version: "v1", Resource: "cronjobs"},
}

// get returns a jsonpath of one object ("pod/NAME", "job/NAME",
// "cronjob/NAME") or of a list ("pods", "jobs") in namespace n, as `kubectl get -o jsonpath` prints it
// (missing keys print nothing); "" when it cannot be read.
func get(t *testing.T, n, obj, path string) string {
	t.Helper()
	readerOnce.Do(func() {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			readerErr = err
			return
		}
		cfg.QPS, cfg.Burst = 1000, 2000
		reader, readerErr = dynamic.NewForConfig(cfg)
	})
	if readerErr != nil {
		t.Fatalf("client for %s: %v", kubeconfig, readerErr)
	}
	kind, name, _ := strings.Cut(obj, "/")
	gvr, ok := getResources[kind]
	if !ok {
		t.Fatalf("get %s: add its resource to getResources", obj)
	}
	jp := jsonpath.New("get").AllowMissingKeys(true)
	if err := jp.Parse(path); err != nil {
		t.Fatalf("jsonpath %s: %v", path, err)
	}
	ctx := context.Background()
	var content any
	if name == "" {
		list, err := reader.Resource(gvr).Namespace(n).List(ctx, metav1.ListOptions{})
		if err != nil {
			return ""
		}
		content = list.UnstructuredContent()
	} else {
		o, err := reader.Resource(gvr).Namespace(n).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		content = o.UnstructuredContent()
	}
	var out bytes.Buffer
	if err := jp.Execute(&out, content); err != nil {
		return ""
	}
	return out.String()
}

// waitFor waits until the jsonpath of obj equals want.
func waitFor(t *testing.T, n, obj, path, want string) {
	t.Helper()
	eventually(t, obj+" "+path+" = "+want, func() bool { return get(t, n, obj, path) == want })
}
