package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImageImportListRemove drives `batchd image` as a user would: import a
// docker save tar, list it, remove it.
func TestImageImportListRemove(t *testing.T) {
	dir := t.TempDir()
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("registry.example.com/tools/report:1.2")
	tarPath := filepath.Join(dir, "report.tar")
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := New(strings.NewReader(""), &out, &errOut).Run(context.Background(), append([]string{"batchd", "image", "--data-dir", data}, args...))
		return out.String(), errOut.String(), code
	}
	if out, errOut, code := run("import", tarPath); code != 0 || out != "Loaded image: registry.example.com/tools/report:1.2\n" {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	id, _ := img.ConfigName()
	out, _, code := run("ls")
	want := regexp.MustCompile(`(?m)^IMAGE\s+TAG\s+IMAGE ID\s+SIZE\nregistry.example.com/tools/report\s+1.2\s+` + id.Hex[:13] + `\s+\d+(\.\d+)?kB\n$`)
	if code != 0 || !want.MatchString(out) {
		t.Fatalf("ls: %d\n%s", code, out)
	}
	if out, errOut, code := run("rm", "registry.example.com/tools/report:1.2"); code != 0 || out != "Deleted: registry.example.com/tools/report:1.2\n" {
		t.Fatalf("rm: %d %q %q", code, out, errOut)
	}
	if out, _, _ := run("ls"); strings.Count(out, "\n") != 1 {
		t.Errorf("ls after rm:\n%s", out)
	}
	if _, errOut, code := run("rm", "registry.example.com/tools/report:1.2"); code == 0 || !strings.Contains(errOut, `image "registry.example.com/tools/report:1.2" not found`) {
		t.Errorf("rm of a missing image: %d %q", code, errOut)
	}
	if _, errOut, code := run("import", filepath.Join(dir, "nope.tar")); code == 0 || !strings.Contains(errOut, "no such file") {
		t.Errorf("import of a missing file: %d %q", code, errOut)
	}
}

// TestImageReadsCreateNoDataDir: listing or removing images of a data dir
// that does not exist answers as for an empty store and creates nothing.
func TestImageReadsCreateNoDataDir(t *testing.T) {
	data := filepath.Join(t.TempDir(), "none")
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := New(strings.NewReader(""), &out, &errOut).Run(context.Background(), append([]string{"batchd", "image", "--data-dir", data}, args...))
		return out.String(), errOut.String(), code
	}
	if out, errOut, code := run("ls"); code != 0 || !regexp.MustCompile(`^IMAGE\s+TAG\s+IMAGE ID\s+SIZE\n$`).MatchString(out) {
		t.Errorf("ls: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := run("rm", "busybox"); code != 1 || errOut != "Error: image \"busybox\" not found\n" {
		t.Errorf("rm: %d %q", code, errOut)
	}
	if _, errOut, code := run("rm", "UPPER/case"); code != 1 || !strings.Contains(errOut, "couldn't parse image name") {
		t.Errorf("rm of a bad name: %d %q", code, errOut)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the data dir was created: %v", err)
	}
}
