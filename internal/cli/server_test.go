package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

func TestSteadyGCPercent(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOGC" {
				return v
			}
			return ""
		}
	}
	if p, ok := steadyGCPercent(env("")); !ok || p != 50 {
		t.Errorf("GOGC unset: %d %v, want 50 true", p, ok)
	}
	for _, v := range []string{"100", "off", "200"} {
		if _, ok := steadyGCPercent(env(v)); ok {
			t.Errorf("GOGC=%s: the server overrides it", v)
		}
	}
}

// TestServerAndAgentTakeVerbosityFlags: `batchd server -v=3` and `batchd
// agent --v=3 --vmodule=…` set klog's verbosity, as kube-apiserver's and the
// kubelet's flags do.
func TestServerAndAgentTakeVerbosityFlags(t *testing.T) {
	c := New(strings.NewReader(""), io.Discard, io.Discard)
	defer func() {
		// klog's level is the process's: back to the default for the rest.
		fs := pflag.NewFlagSet("reset", pflag.ContinueOnError)
		addVerbosityFlags(fs)
		_ = fs.Parse([]string{"--v=0", "--vmodule="})
	}()
	for _, tc := range []struct {
		cmd  *cobra.Command
		args []string
	}{
		{c.serverCommand(), []string{"-v=3"}},
		{c.agentCommand(), []string{"--v=3", "--vmodule=leader*=5"}},
	} {
		if klog.V(3).Enabled() {
			t.Fatal("verbosity 3 enabled before the flags")
		}
		if err := tc.cmd.ParseFlags(tc.args); err != nil {
			t.Fatalf("%s %v: %v", tc.cmd.Name(), tc.args, err)
		}
		if !klog.V(3).Enabled() || klog.V(4).Enabled() {
			t.Errorf("%s %v: verbosity 3 %v, 4 %v; want 3 only", tc.cmd.Name(), tc.args, klog.V(3).Enabled(), klog.V(4).Enabled())
		}
		if err := tc.cmd.ParseFlags([]string{"-v=0"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.serverCommand().ParseFlags([]string{"-v=loud"}); err == nil || !strings.Contains(err.Error(), `invalid argument "loud" for "-v, --v" flag`) {
		t.Errorf("-v=loud: %v", err)
	}
}
