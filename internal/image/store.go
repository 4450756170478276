// Package image keeps container images on this machine: pulled from
// registries with go-containerregistry (multi-arch indexes resolved to
// linux/<this arch>), or imported from a `docker save` tar or an OCI image
// layout; stored as an OCI image layout (blobs content-addressed by sha256)
// and unpacked once per image into a root file system that containers share
// read-only.
package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// refAnnotation names an image in the layout's index.json (OCI's own key).
const refAnnotation = "org.opencontainers.image.ref.name"

// Image is a stored image.
type Image struct {
	// Ref is the normalized reference, e.g. index.docker.io/library/busybox:1.36.
	Ref string
	// ID is the image's config digest (what `docker images` calls IMAGE ID).
	ID v1.Hash
	// Digest is the manifest digest.
	Digest v1.Hash
	// Size is the compressed size of the layers and config.
	Size int64
	// Config is the image's run configuration: Entrypoint, Cmd, Env,
	// WorkingDir, User.
	Config v1.Config
}

// Store is the image store under one directory (<data-dir>/images).
type Store struct {
	dir  string
	path layout.Path
}

// Open opens or creates the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o700); err != nil {
		return nil, err
	}
	lp := filepath.Join(dir, "layout")
	p, err := layout.FromPath(lp)
	if err != nil {
		if p, err = layout.Write(lp, empty.Index); err != nil {
			return nil, fmt.Errorf("create image layout: %w", err)
		}
	}
	return &Store{dir: dir, path: p}, nil
}

// InvalidNameError is an image name that does not parse (the kubelet's
// InvalidImageName).
type InvalidNameError struct {
	Image string
	Err   error
}

func (e *InvalidNameError) Error() string {
	return fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: %v", e.Image, e.Image, e.Err)
}

// Normalize parses image as the kubelet does: docker.io and library/ are
// implied, and no tag means :latest.
func Normalize(image string) (name.Reference, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, &InvalidNameError{Image: image, Err: err}
	}
	return ref, nil
}

// lock serialises writers of the store across processes (the server's node
// agent and `batchd image`).
func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Get returns the stored image named image, if there is one.
func (s *Store) Get(image string) (Image, bool, error) {
	ref, err := Normalize(image)
	if err != nil {
		return Image{}, false, err
	}
	imgs, err := s.List()
	if err != nil {
		return Image{}, false, err
	}
	for _, img := range imgs {
		if img.Ref == ref.Name() {
			return img, true, nil
		}
	}
	return Image{}, false, nil
}

// List returns every stored image, sorted by reference.
func (s *Store) List() ([]Image, error) {
	idx, err := s.path.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, d := range m.Manifests {
		ref := d.Annotations[refAnnotation]
		if ref == "" {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		i, err := describe(ref, img)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Ref < out[b].Ref })
	return out, nil
}

func describe(ref string, img v1.Image) (Image, error) {
	i := Image{Ref: ref}
	var err error
	if i.Digest, err = img.Digest(); err != nil {
		return i, err
	}
	if i.ID, err = img.ConfigName(); err != nil {
		return i, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return i, err
	}
	i.Config = cf.Config
	m, err := img.Manifest()
	if err != nil {
		return i, err
	}
	i.Size = m.Config.Size
	for _, l := range m.Layers {
		i.Size += l.Size
	}
	return i, nil
}

// Platform is the platform images are resolved to: linux/<this arch>.
func Platform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: goruntime.GOARCH}
}

// Pull fetches image from its registry (resolving a multi-arch index to
// Platform()), stores it under its normalized reference and returns it.
func (s *Store) Pull(ctx context.Context, image string, kc authn.Keychain) (Image, error) {
	ref, err := Normalize(image)
	if err != nil {
		return Image{}, err
	}
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(Platform()))
	if err != nil {
		return Image{}, err
	}
	return s.put(ref.Name(), img)
}

// put stores img under ref, replacing what ref named before.
func (s *Store) put(ref string, img v1.Image) (Image, error) {
	unlock, err := s.lock()
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if err := s.path.ReplaceImage(img, match.Annotation(refAnnotation, ref), layout.WithAnnotations(map[string]string{refAnnotation: ref})); err != nil {
		return Image{}, fmt.Errorf("store %s: %w", ref, err)
	}
	return describe(ref, img)
}

// Remove deletes the image named image, the blobs no other image uses and
// its root file system when no other image shares it.
func (s *Store) Remove(image string) error {
	img, ok, err := s.Get(image)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("image %q not found", image)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.path.RemoveDescriptors(match.Annotation(refAnnotation, img.Ref)); err != nil {
		return err
	}
	if err := s.collect(); err != nil {
		return err
	}
	rest, err := s.List()
	if err != nil {
		return err
	}
	for _, r := range rest {
		if r.ID == img.ID {
			return nil
		}
	}
	return removeTree(s.rootfsDir(img.ID))
}

// collect removes the blobs no stored image references.
func (s *Store) collect() error {
	unused, err := s.path.GarbageCollect()
	if err != nil {
		return err
	}
	for _, h := range unused {
		if err := s.path.RemoveBlob(h); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Usage is the bytes the store's files take on disk.
func (s *Store) Usage() (int64, error) {
	var total int64
	err := filepath.WalkDir(s.dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	return total, err
}

// ShortRef is how `batchd image ls` shows a reference: docker.io for Docker
// Hub, as crictl does.
func ShortRef(ref string) (repo, tag string) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref, ""
	}
	repo = r.Context().Name()
	repo = strings.Replace(repo, name.DefaultRegistry+"/", "docker.io/", 1)
	switch t := r.(type) {
	case name.Tag:
		tag = t.TagStr()
	case name.Digest:
		tag = "<none>"
	}
	return repo, tag
}

// StatusNames are how a container status names img, as containerd reports
// it to the kubelet: image is the reference with docker.io for Docker Hub
// (docker.io/library/busybox:1.36), imageID the repository at the
// manifest digest (docker.io/library/busybox@sha256:…).
func StatusNames(img Image) (image, imageID string) {
	repo, tag := ShortRef(img.Ref)
	image = repo + ":" + tag
	if tag == "<none>" {
		image = repo + "@" + img.Digest.String()
	}
	return image, repo + "@" + img.Digest.String()
}
