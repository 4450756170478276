package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// busyboxPath is Debian's busybox-static (.ci/run installs it).
const busyboxPath = "/bin/busybox"

type entry struct {
	name, body, link string
	mode             int64
	typ              byte
}

func layerOf(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: e.typ, Linkname: e.link, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage is busybox-static in two layers: the second deletes a file of
// the first (whiteout) and replaces a directory's contents (opaque whiteout).
func testImage(t *testing.T, marker string) v1.Image {
	t.Helper()
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		t.Fatalf("%v: install Debian's busybox-static (.ci/run does)", err)
	}
	base := layerOf(t,
		entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/busybox", body: string(bb), mode: 0o755},
		entry{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		entry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "etc/passwd", body: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"},
		entry{name: "etc/removed", body: "gone in the next layer"},
		entry{name: "opt/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "opt/old", body: "hidden by an opaque whiteout"},
	)
	top := layerOf(t,
		entry{name: "etc/.wh.removed", body: ""},
		entry{name: "opt/.wh..wh..opq", body: ""},
		entry{name: "opt/new", body: "from the top layer"},
		entry{name: "marker", body: marker},
		entry{name: "bin/ls", typ: tar.TypeLink, link: "bin/busybox"},
	)
	img, err := mutate.AppendLayers(empty.Image, base, top)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config = v1.Config{Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"echo hello"}, Env: []string{"PATH=/bin", "FROM_IMAGE=yes"}, WorkingDir: "/opt", User: "65534"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// withBasicAuth requires user:pass on every request of h.
func withBasicAuth(h http.Handler, user, pass string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func TestPullUnpackRemove(t *testing.T) {
	srv := httptest.NewServer(quietRegistry())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := testImage(t, "v1")
	ref, _ := name.ParseReference(host + "/tools/busybox:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Pull(context.Background(), host+"/tools/busybox:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := img.ConfigName()
	if got.ID != wantID || got.Config.WorkingDir != "/opt" || got.Config.User != "65534" {
		t.Errorf("pulled %+v", got)
	}
	if _, ok, _ := s.Get(host + "/tools/busybox:1"); !ok {
		t.Fatal("not found after pull")
	}
	root, err := s.Rootfs(host + "/tools/busybox:1")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"opt/new": "from the top layer", "marker": "v1"} {
		if b, err := os.ReadFile(filepath.Join(root, path)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v", path, b, err)
		}
	}
	for _, gone := range []string{"etc/removed", "opt/old", "etc/.wh.removed", "opt/.wh..wh..opq"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the whiteouts: %v", gone, err)
		}
	}
	if l, err := os.Readlink(filepath.Join(root, "bin/sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh -> %q, %v", l, err)
	}
	// The unpacked binary runs (hard link and symlink included).
	out, err := exec.Command(filepath.Join(root, "bin/ls"), "/").CombinedOutput()
	if err != nil {
		t.Fatalf("run the image's busybox: %v: %s", err, out)
	}
	// A second Rootfs is the same directory, not a second unpacking.
	if again, err := s.Rootfs(host + "/tools/busybox:1"); err != nil || again != root {
		t.Errorf("second Rootfs: %q, %v", again, err)
	}

	// A new push under the same tag replaces the stored image on pull.
	img2 := testImage(t, "v2")
	if err := remote.Write(ref, img2); err != nil {
		t.Fatal(err)
	}
	got2, err := s.Pull(context.Background(), host+"/tools/busybox:1", nil)
	if err != nil || got2.ID == got.ID {
		t.Fatalf("re-pull: %+v, %v", got2, err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("list after re-pull: %+v, %v", list, err)
	}

	if err := s.Remove(host + "/tools/busybox:1"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("still listed: %+v", list)
	}
	blobs, _ := os.ReadDir(filepath.Join(s.dir, "layout", "blobs", "sha256"))
	if len(blobs) != 0 {
		t.Errorf("%d blobs left after the only image was removed", len(blobs))
	}
	if err := s.Remove(host + "/tools/busybox:1"); err == nil {
		t.Error("removing a missing image succeeded")
	}
}

func TestPullPicksThisPlatformFromAnIndex(t *testing.T) {
	srv := httptest.NewServer(quietRegistry())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ours := testImage(t, "ours")
	other := testImage(t, "other")
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: ours, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: goruntime.GOARCH}}},
	)
	ref, _ := name.ParseReference(host + "/multi:latest")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(t.TempDir())
	got, err := s.Pull(context.Background(), host+"/multi", nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ours.ConfigName()
	if got.ID != want {
		t.Errorf("pulled %s, want this platform's %s", got.ID, want)
	}
	if got.Ref != host+"/multi:latest" {
		t.Errorf("ref %q: no tag means :latest", got.Ref)
	}
}

func TestPullWithCredentialsFromADockerConfig(t *testing.T) {
	srv := httptest.NewServer(withBasicAuth(quietRegistry(), "alice", "s3cret"))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, _ := name.ParseReference(host + "/private:1")
	auth := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "s3cret"}))
	if err := remote.Write(ref, testImage(t, "private"), auth); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(t.TempDir())
	if _, err := s.Pull(context.Background(), host+"/private:1", DockerConfig{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("pull without credentials: %v, want a 401", err)
	}
	cfg, err := ParseDockerConfig([]byte(`{"auths":{"` + host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) + `"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(context.Background(), host+"/private:1", cfg); err != nil {
		t.Fatalf("pull with the pull secret's credentials: %v", err)
	}
}

func TestImportDockerSaveTarAndOCILayout(t *testing.T) {
	dir := t.TempDir()
	img := testImage(t, "imported")
	tag, _ := name.NewTag("example.com/team/tool:2.0")
	tarPath := filepath.Join(dir, "saved.tar")
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(filepath.Join(dir, "store"))
	got, err := s.Import(tarPath)
	if err != nil || len(got) != 1 || got[0].Ref != "example.com/team/tool:2.0" {
		t.Fatalf("import tar: %+v, %v", got, err)
	}
	if root, err := s.Rootfs("example.com/team/tool:2.0"); err != nil {
		t.Fatal(err)
	} else if b, _ := os.ReadFile(filepath.Join(root, "marker")); string(b) != "imported" {
		t.Errorf("marker %q", b)
	}

	lp, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(testImage(t, "from-layout"), layout.WithAnnotations(map[string]string{refAnnotation: "busybox:oci"})); err != nil {
		t.Fatal(err)
	}
	got, err = s.Import(filepath.Join(dir, "oci"))
	if err != nil || len(got) != 1 || got[0].Ref != "index.docker.io/library/busybox:oci" {
		t.Fatalf("import layout: %+v, %v", got, err)
	}
	if repo, tag := ShortRef(got[0].Ref); repo != "docker.io/library/busybox" || tag != "oci" {
		t.Errorf("ShortRef: %s %s", repo, tag)
	}
	if _, err := s.Import(filepath.Join(dir, "store", ".lock")); err == nil {
		t.Error("importing a file that is neither format succeeded")
	}
}

func TestUntarRefusesToWriteThroughSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: outside})
	tw.WriteHeader(&tar.Header{Name: "etc/evil", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	if err := Untar(&buf, root); err == nil {
		t.Fatal("an entry under a symlink was written")
	}
	if _, err := os.Stat(filepath.Join(outside, "evil")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("escaped the root: %v", err)
	}
	var dots bytes.Buffer
	tw = tar.NewWriter(&dots)
	tw.WriteHeader(&tar.Header{Name: "../../escape", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	if err := Untar(&dots, root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "escape")); err != nil {
		t.Errorf("../../escape should land at the root: %v", err)
	}
}

func TestInvalidImageName(t *testing.T) {
	_, err := Normalize("Busybox:UPPER CASE")
	var inv *InvalidNameError
	if !errors.As(err, &inv) {
		t.Fatalf("err = %v", err)
	}
}

func quietRegistry() http.Handler { return registry.New(registry.Logger(log.New(io.Discard, "", 0))) }
