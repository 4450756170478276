package pod

import (
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// FuzzLogOptionsFromQuery: any query string of a log request converts or is
// refused with an error, never a panic.
func FuzzLogOptionsFromQuery(f *testing.F) {
	for _, q := range []string{"container=c&follow=true&tailLines=10", "sinceSeconds=-1&limitBytes=99999999999999999999", "sinceTime=2026-11-23T10:00:00Z", "sinceTime=yesterday", "previous=maybe", "timestamps=1&tailLines=0x10"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		var o corev1.PodLogOptions
		_ = logOptionsFromQuery(q, &o)
	})
}
