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

// The state the tests wait on, and the namespaces they work in, go through
// the API rather than a kubectl process each: one e2e run started 953 of
// them, about 0.2 CPU-s apiece on a loaded machine, 168 only to make and
// remove namespaces. What kubectl prints is tested where it is the subject.
var readers sync.Map // kubeconfig path -> *reader

type reader struct {
	once   sync.Once
	client dynamic.Interface
	err    error
}

// clientOf is a client for the server of kubeconfig path, made once.
func clientOf(t *testing.T, path string) dynamic.Interface {
	t.Helper()
	v, _ := readers.LoadOrStore(path, &reader{})
	r := v.(*reader)
	r.once.Do(func() {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			r.err = err
			return
		}
		cfg.QPS, cfg.Burst = 1000, 2000
		r.client, r.err = dynamic.NewForConfig(cfg)
	})
	if r.err != nil {
		t.Fatalf("client for %s: %v", path, r.err)
	}
	return r.client
}

// getResources: the objects the tests read this way, by the name kubectl
// takes ("pod/NAME", or "pods" for the namespace's list).
var getResources = map[string]schema.GroupVersionResource{
	"pod": {Version: "v1", Resource: "pods"}, "pods": {Version: "v1", Resource: "pods"},
	"job": {Group: "batch", Version: "v1", Resource: "jobs"}, "jobs": {Group: "batch", Version: "v1", Resource: "jobs"},
	"cronjob": {Group: "batch", Version: "v1", Resource: "cronjobs"},
	"node":    {Version: "v1", Resource: "nodes"}, "nodes": {Version: "v1", Resource: "nodes"},
}

var namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// get returns a jsonpath of one object ("pod/NAME", "job/NAME",
// "cronjob/NAME", "node/NAME") or of a list ("pods", "jobs", "nodes") in
// namespace n, as `kubectl get -o jsonpath` prints it (missing keys print
// nothing); "" when it cannot be read.
func get(t *testing.T, n, obj, path string) string {
	t.Helper()
	return getFrom(t, kubeconfig, n, obj, path)
}

// getFrom is get from the server of another kubeconfig.
func getFrom(t *testing.T, config, n, obj, path string) string {
	t.Helper()
	c := clientOf(t, config)
	kind, name, _ := strings.Cut(obj, "/")
	gvr, ok := getResources[kind]
	if !ok {
		t.Fatalf("get %s: add its resource to getResources", obj)
	}
	if gvr.Resource == "nodes" {
		n = ""
	}
	jp := jsonpath.New("get").AllowMissingKeys(true)
	if err := jp.Parse(path); err != nil {
		t.Fatalf("jsonpath %s: %v", path, err)
	}
	ctx := context.Background()
	var content any
	if name == "" {
		list, err := c.Resource(gvr).Namespace(n).List(ctx, metav1.ListOptions{})
		if err != nil {
			return ""
		}
		content = list.UnstructuredContent()
	} else {
		o, err := c.Resource(gvr).Namespace(n).Get(ctx, name, metav1.GetOptions{})
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
