package pod

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The exec, attach and port-forward options read from a query string as
// upstream's generated conversions and v1 defaults read them: stdout and
// stderr unless turned off, commands and ports repeated.
func TestStreamOptionsFromQuery(t *testing.T) {
	s := runtime.NewScheme()
	if err := RegisterStreamOptionsConversion(s); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query string
		into  runtime.Object
		want  runtime.Object
	}{
		{"command=sh&command=-c&command=echo+hi&stdin=true&tty=1&container=c", &corev1.PodExecOptions{},
			&corev1.PodExecOptions{Command: []string{"sh", "-c", "echo hi"}, Stdin: true, Stdout: true, Stderr: true, TTY: true, Container: "c"}},
		{"command=true&stdout=false&stderr=false", &corev1.PodExecOptions{}, &corev1.PodExecOptions{Command: []string{"true"}}},
		{"stdin=true", &corev1.PodAttachOptions{}, &corev1.PodAttachOptions{Stdin: true, Stdout: true, Stderr: true}},
		{"ports=8080&ports=9090", &corev1.PodPortForwardOptions{}, &corev1.PodPortForwardOptions{Ports: []int32{8080, 9090}}},
	} {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Convert(&q, c.into, nil); err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if d := cmp.Diff(c.want, c.into); d != "" {
			t.Errorf("%s: (-want +got)\n%s", c.query, d)
		}
	}
	q := url.Values{"ports": {"http"}}
	if err := s.Convert(&q, &corev1.PodPortForwardOptions{}, nil); err == nil {
		t.Error("a port that is not a number was read")
	}
}
