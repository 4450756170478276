package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	goruntime "runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Busybox is a two-layer image of a static busybox binary at path (Debian's
// busybox-static): /bin/busybox and /bin/sh in the first layer, /etc/passwd
// and /etc/group in the second, for linux/this arch, run as config says.
// Tests and benchmarks build their images with it.
func Busybox(path string, config v1.Config) (v1.Image, error) {
	bb, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (install Debian's busybox-static)", err)
	}
	layer := func(files map[string]string) (v1.Layer, error) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for name, body := range files {
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
				return nil, err
			}
			if _, err := tw.Write([]byte(body)); err != nil {
				return nil, err
			}
		}
		if err := tw.Close(); err != nil {
			return nil, err
		}
		data := buf.Bytes()
		return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	}
	base, err := layer(map[string]string{"bin/busybox": string(bb), "bin/sh": string(bb)})
	if err != nil {
		return nil, err
	}
	top, err := layer(map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
		"tmp/.keep":  "",
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, base, top)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config = config
	return mutate.ConfigFile(img, cf)
}

// BusyboxRoot unpacks Busybox(path, v1.Config{}) into dir, as a store
// unpacks an image: a root file system tests run containers on.
func BusyboxRoot(path, dir string) error {
	img, err := Busybox(path, v1.Config{})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	return Untar(rc, dir)
}
