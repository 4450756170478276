package server

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/batchd/batchd/internal/apiserver"
	"github.com/batchd/batchd/internal/controller/nodelifecycle"
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

func TestClusterFlags(t *testing.T) {
	token := "K10" + strings.Repeat("ab", 32) + "::server:s3cret"
	for _, tc := range []struct {
		name string
		set  func(*Options)
		want string // "" = valid
	}{
		{"single server", func(*Options) {}, ""},
		{"cluster-init", func(o *Options) { o.ClusterInit = true }, ""},
		{"join", func(o *Options) { o.JoinServer, o.Token = "https://127.0.0.1:6443", token }, ""},
		{"join without token", func(o *Options) { o.JoinServer = "https://127.0.0.1:6443" }, "--token: join token must have the form"},
		{"bare secret", func(o *Options) { o.JoinServer, o.Token = "https://127.0.0.1:6443", "s3cret" }, "--token: join token must have the form"},
		{"http server", func(o *Options) { o.JoinServer, o.Token = "http://127.0.0.1:6443", token }, "must be an https:// URL"},
		{"both", func(o *Options) { o.ClusterInit, o.JoinServer, o.Token = true, "https://127.0.0.1:6443", token }, "exclude each other"},
		{"external etcd", func(o *Options) { o.ClusterInit, o.EtcdServers = true, []string{"https://127.0.0.1:2379"} }, "not with --etcd-servers"},
		{"token alone", func(o *Options) { o.Token = token }, "--token goes with --server"},
		{"every address, no advertise", func(o *Options) { o.ClusterInit, o.BindAddress = true, "0.0.0.0" }, "--advertise-address must be set"},
		{"peer port", func(o *Options) { o.ClusterInit, o.EtcdPeerPort = true, 0 }, "--etcd-peer-port 0 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			o.DataDir = t.TempDir()
			tc.set(o)
			var msgs []string
			for _, e := range o.Validate() {
				msgs = append(msgs, e.Error())
			}
			all := strings.Join(msgs, "\n")
			if tc.want == "" && all != "" || tc.want != "" && !strings.Contains(all, tc.want) {
				t.Fatalf("errors %q, want %q", all, tc.want)
			}
		})
	}
	o := NewOptions()
	o.DataDir, o.BindAddress, o.JoinServer, o.Token = t.TempDir(), "127.0.0.2", "https://127.0.0.1:6443/", token
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cluster
	if c == nil || c.Init || c.Server != "https://127.0.0.1:6443" || c.Advertise.String() != "127.0.0.2" || c.PeerPort != 2380 || c.Token.Secret != "s3cret" {
		t.Fatalf("cluster %+v", c)
	}
}

func TestNodeLifecycleFlags(t *testing.T) {
	o := NewOptions()
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--node-monitor-grace-period=12s", "--node-monitor-period=1s", "--default-not-ready-toleration-seconds=7", "--default-unreachable-toleration-seconds=9"}); err != nil {
		t.Fatal(err)
	}
	o.DataDir = t.TempDir()
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	if want := (nodelifecycle.Timing{MonitorPeriod: time.Second, GracePeriod: 12 * time.Second, StartupGracePeriod: time.Minute}); cfg.NodeLifecycle != want {
		t.Errorf("timing %+v, want %+v", cfg.NodeLifecycle, want)
	}
	if d := cfg.DefaultTolerations; d == nil || *d != (apiserver.DefaultTolerations{NotReadySeconds: 7, UnreachableSeconds: 9}) {
		t.Errorf("tolerations %+v", d)
	}
	if d := NewOptions(); d.NodeLifecycle.GracePeriod != 50*time.Second || d.DefaultNotReadyTolerationSeconds != 300 || d.DefaultUnreachableTolerationSeconds != 300 {
		t.Errorf("defaults %+v", d)
	}
	o.NodeLifecycle.GracePeriod = 0
	if errs := o.Validate(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "--node-monitor-grace-period 0s must be positive") {
		t.Errorf("errors %v", errs)
	}
}

// --disable-agent keeps the scheduler; --disable-scheduler takes it away.
func TestAgentAndSchedulerFlags(t *testing.T) {
	for _, tc := range []struct {
		args                 []string
		noAgent, noScheduler bool
	}{
		{nil, false, false},
		{[]string{"--disable-agent"}, true, false},
		{[]string{"--disable-node-agent"}, true, false},
		{[]string{"--disable-agent", "--disable-scheduler"}, true, true},
	} {
		o := NewOptions()
		fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := o.Config()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DisableNodeAgent != tc.noAgent || cfg.DisableScheduler != tc.noScheduler {
			t.Errorf("%v: agent disabled %v, scheduler disabled %v", tc.args, cfg.DisableNodeAgent, cfg.DisableScheduler)
		}
	}
}

func TestRequestTimeoutFlag(t *testing.T) {
	o := NewOptions()
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	o.AddFlags(fs)
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RequestTimeout != time.Minute {
		t.Errorf("default %s, want kube-apiserver's 1m0s", cfg.RequestTimeout)
	}
	if err := fs.Parse([]string{"--request-timeout", "0s"}); err != nil {
		t.Fatal(err)
	}
	if errs := o.Validate(); len(errs) != 1 || errs[0].Error() != "--request-timeout 0s must be positive" {
		t.Errorf("errors = %v", errs)
	}
}
