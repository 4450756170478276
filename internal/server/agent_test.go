package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentOptions(t *testing.T) {
	tok := "K10" + strings.Repeat("a", 64) + "::server:s3cret"
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func() *AgentOptions {
		o := NewAgentOptions()
		o.DataDir, o.Server, o.Token, o.NodeName = t.TempDir(), "https://127.0.0.1:6443", tok, "a1"
		return o
	}
	cfg, err := base().Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token.Secret != "s3cret" || !cfg.Advertise.Equal(cfg.Bind) || cfg.SecurePort != DefaultAgentPort {
		t.Fatalf("config %+v", cfg)
	}
	o := base()
	o.Token, o.TokenFile = "", file
	o.NodeLabels = []string{"zone=z1", "example.com/tier=batch"}
	o.NodeTaints = []string{"gpu=yes:NoSchedule", "spot:PreferNoSchedule"}
	cfg, err = o.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token.Secret != "s3cret" || cfg.Labels["example.com/tier"] != "batch" || len(cfg.Taints) != 2 || cfg.Taints[1].Key != "spot" || cfg.Taints[1].Value != "" {
		t.Fatalf("config %+v", cfg)
	}
	for name, bad := range map[string]func(*AgentOptions){
		"http server":      func(o *AgentOptions) { o.Server = "http://127.0.0.1:6443" },
		"bare secret":      func(o *AgentOptions) { o.Token = "s3cret" },
		"token and file":   func(o *AgentOptions) { o.TokenFile = file },
		"label":            func(o *AgentOptions) { o.NodeLabels = []string{"zone"} },
		"taint effect":     func(o *AgentOptions) { o.NodeTaints = []string{"gpu=yes:Never"} },
		"node name":        func(o *AgentOptions) { o.NodeName = "A_1" },
		"bind everywhere":  func(o *AgentOptions) { o.BindAddress = "0.0.0.0" },
		"port":             func(o *AgentOptions) { o.SecurePort = 70000 },
		"advertise not ip": func(o *AgentOptions) { o.AdvertiseAddress = "host" },
	} {
		o := base()
		bad(o)
		if _, err := o.Config(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
