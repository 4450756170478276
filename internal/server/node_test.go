package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/batchd/batchd/internal/node/runtime"
)

// Each OCI runtime is asked its version once; the default is the flag's,
// else runc, else crun; a flag naming nothing says so.
func TestFindOCIRuntime(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	for name, version := range map[string]string{"runc": "runc version 9.9", "crun": "crun version 8.8"} {
		script := "#!/bin/sh\necho " + name + " >> " + calls + "\necho '" + version + "'\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	cg := &runtime.Cgroups{}

	resolved := resolveOCIRuntimes([]string{"", "runc", "crun", "runc"})
	if got, _ := os.ReadFile(calls); strings.Count(string(got), "runc") != 1 || strings.Count(string(got), "crun") != 1 {
		t.Errorf("version asked: %q, want once each", got)
	}
	o, problem := findOCIRuntime("", cg, resolved)
	if problem != "" || o.Path != filepath.Join(bin, "runc") || o.Kind != runtime.Runc || o.Version != "runc version 9.9" {
		t.Errorf("default: %+v %q", o, problem)
	}
	o, problem = findOCIRuntime("crun", cg, resolved)
	if problem != "" || o.Kind != runtime.Crun || o.Version != "crun version 8.8" {
		t.Errorf("--oci-runtime crun: %+v %q", o, problem)
	}
	withoutRunc := map[string]runtime.OCIRuntime{"crun": resolved["crun"]}
	if o, _ := findOCIRuntime("", cg, withoutRunc); o.Kind != runtime.Crun {
		t.Errorf("no runc: %+v, want crun", o)
	}
	resolved = resolveOCIRuntimes([]string{"nosuch", "runc", "crun"})
	if o, problem := findOCIRuntime("nosuch", cg, resolved); !o.IsZero() || !strings.Contains(problem, `--oci-runtime nosuch: exec: "nosuch": executable file not found`) {
		t.Errorf("--oci-runtime nosuch: %+v %q", o, problem)
	}
}
