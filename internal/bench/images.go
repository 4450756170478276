package bench

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/batchd/batchd/internal/image"
)

// ImagesOptions size the image benchmark.
type ImagesOptions struct {
	Runs    int
	Busybox string // a static busybox to build the image from
	Out     io.Writer
}

// Images measures a cold pull of a busybox image from a registry on this
// machine (in-process, over HTTP) into an empty store, its unpacking into a
// root file system, and the import of the same image as a docker save tar.
func Images(ctx context.Context, o ImagesOptions) error {
	tmp, err := begin(o.Out, "batchd-bench-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	img, err := image.Busybox(o.Busybox, v1.Config{Cmd: []string{"/bin/busybox", "sh"}})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/bench/busybox:1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		return err
	}
	tag, _ := name.NewTag("bench/busybox:1")
	saved := filepath.Join(tmp, "busybox.tar")
	if err := tarball.WriteToFile(saved, tag, img); err != nil {
		return err
	}
	var pulls, unpacks, imports []float64
	var size int64
	for i := 0; i < o.Runs; i++ {
		s, err := image.Open(filepath.Join(tmp, fmt.Sprintf("pull-%d", i)))
		if err != nil {
			return err
		}
		start := time.Now()
		got, err := s.Pull(ctx, ref, nil)
		if err != nil {
			return err
		}
		pulls = append(pulls, time.Since(start).Seconds()*1000)
		size = got.Size
		start = time.Now()
		if _, err := s.Rootfs(ref); err != nil {
			return err
		}
		unpacks = append(unpacks, time.Since(start).Seconds()*1000)
		s2, err := image.Open(filepath.Join(tmp, fmt.Sprintf("import-%d", i)))
		if err != nil {
			return err
		}
		start = time.Now()
		if _, err := s2.Import(saved); err != nil {
			return err
		}
		imports = append(imports, time.Since(start).Seconds()*1000)
	}
	what := fmt.Sprintf("busybox-static image, %.1f MB compressed", float64(size)/1e6)
	rowMedian(o.Out, "cold pull from a local registry, "+what+" (ms)", pulls, "%.1f")
	rowMedian(o.Out, "unpack into a root file system, "+what+" (ms)", unpacks, "%.1f")
	rowMedian(o.Out, "`batchd image import` of its docker save tar (ms)", imports, "%.1f")
	return nil
}
