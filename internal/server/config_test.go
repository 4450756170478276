package server

import (
	"strings"
	"testing"

	"github.com/batchd/batchd/internal/node/runtime"
)

func TestContainerLogFlags(t *testing.T) {
	o := NewOptions()
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	if want := (runtime.LogLimits{MaxSize: 10 << 20, MaxFiles: 5}); cfg.ContainerLogs != want {
		t.Errorf("defaults = %+v, want the kubelet's %+v", cfg.ContainerLogs, want)
	}
	o.ContainerLogMaxSize, o.ContainerLogMaxFiles = "0", 1
	errs := o.Validate()
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{`--container-log-max-size "0" must be a positive quantity such as 10Mi`, "--container-log-max-files 1 must be at least 2"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}
}
