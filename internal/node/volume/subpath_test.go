package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSubPath(t *testing.T) {
	for sub, want := range map[string]string{
		"data":           "",
		"a/b/c":          "",
		"a..b":           "",
		"/etc":           "error SubPath `/etc` must not be an absolute path",
		"../../../..":    "unable to provision SubPath `../../../..`: must not contain '..'",
		"a/../../secret": "unable to provision SubPath `a/../../secret`: must not contain '..'",
	} {
		err := CheckSubPath(sub)
		if (err == nil) != (want == "") || (err != nil && err.Error() != want) {
			t.Errorf("CheckSubPath(%q) = %v, want %q", sub, err, want)
		}
	}
}

// TestPrepareSubPathNeverLeavesTheVolume: links the pod made that point out
// of the volume are refused; links inside it are followed; a missing
// subPath is created; the staged mount shows the subPath's files.
func TestPrepareSubPathNeverLeavesTheVolume(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("bind mounts need root")
	}
	base := t.TempDir()
	root := filepath.Join(base, "vol")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "real"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "real", "f"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{"hostroot": "/", "up": "../outside", "abs": outside, "inner": "real", "secretfile": "../outside/secret"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	stages := filepath.Join(base, "stages")
	t.Cleanup(func() { UnmountUnder(stages) })
	for i, sub := range []string{"hostroot", "hostroot/etc", "up", "abs", "secretfile", "inner/../../outside"} {
		stage := filepath.Join(stages, strings.ReplaceAll(sub, "/", "_"), string(rune('0'+i)))
		if got, err := PrepareSubPath(root, sub, stage); err == nil {
			t.Errorf("PrepareSubPath(%q) = %s, want an error", sub, got)
		}
	}
	got, err := PrepareSubPath(root, "inner", filepath.Join(stages, "inner"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(got, "f")); err != nil || string(b) != "inside" {
		t.Errorf("staged inner: %q %v", b, err)
	}
	// Again (a restarted container): the stale stage is replaced.
	if _, err := PrepareSubPath(root, "inner", filepath.Join(stages, "inner")); err != nil {
		t.Fatal(err)
	}
	got, err = PrepareSubPath(root, "new/deeper", filepath.Join(stages, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(got, "x"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "new", "deeper", "x")); err != nil || string(b) != "y" {
		t.Errorf("created subPath: %q %v", b, err)
	}
	// Missing components below a link out of the volume are not created there.
	if _, err := PrepareSubPath(root, "up/made-by-pod", filepath.Join(stages, "made")); err == nil {
		t.Error("subPath under a link out of the volume accepted")
	}
	if _, err := os.Stat(filepath.Join(outside, "made-by-pod")); err == nil {
		t.Error("a directory was created outside the volume")
	}
	UnmountUnder(stages)
	if m := mountsBelow(stages); m != "" {
		t.Errorf("still mounted: %s", m)
	}
}

func mountsBelow(dir string) string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			return f[4]
		}
	}
	return ""
}

// mountinfo escapes a space, tab, newline and backslash in a path as octal.
func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/var/lib/batchd/pods`: `/var/lib/batchd/pods`,
		`/data\040dir/pods`:    `/data dir/pods`,
		`/a\011b\012c\134d`:    "/a\tb\nc\\d",
		`/ends\04`:             `/ends\04`,
		`/not\xyzoctal`:        `/not\xyzoctal`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
