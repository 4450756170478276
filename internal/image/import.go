package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Import stores the images of file: a `docker save` tar (each of its
// RepoTags) or an OCI image layout directory (each manifest named by the
// org.opencontainers.image.ref.name annotation; an index in it is resolved
// to Platform()).
func (s *Store) Import(file string) ([]Image, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return s.importLayout(file)
	}
	return s.importTar(file)
}

func (s *Store) importTar(file string) ([]Image, error) {
	manifest, err := tarManifest(file)
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, m := range manifest {
		for _, t := range m.RepoTags {
			tag, err := name.NewTag(t)
			if err != nil {
				return out, &InvalidNameError{Image: t, Err: err}
			}
			img, err := tarball.ImageFromPath(file, &tag)
			if err != nil {
				return out, fmt.Errorf("%s in %s: %w", t, file, err)
			}
			i, err := s.put(tag.Name(), img)
			if err != nil {
				return out, err
			}
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no image (no RepoTags in its manifest.json); tag it before `docker save`", file)
	}
	return out, nil
}

// tarManifest reads manifest.json of a docker save tar.
func tarManifest(file string) (tarball.Manifest, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s is neither a docker save tar (no manifest.json) nor an OCI image layout directory", file)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		if filepath.Clean(h.Name) == "manifest.json" {
			var m tarball.Manifest
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				return nil, fmt.Errorf("%s: manifest.json: %w", file, err)
			}
			return m, nil
		}
	}
}

func (s *Store) importLayout(dir string) ([]Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, d := range m.Manifests {
		refName := d.Annotations[refAnnotation]
		if refName == "" {
			continue
		}
		ref, err := Normalize(refName)
		if err != nil {
			return out, err
		}
		var img v1.Image
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return out, err
			}
			if img, err = platformImage(child); err != nil {
				return out, fmt.Errorf("%s: %w", refName, err)
			}
		} else if img, err = idx.Image(d.Digest); err != nil {
			return out, err
		}
		i, err := s.put(ref.Name(), img)
		if err != nil {
			return out, err
		}
		out = append(out, i)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no image (no %s annotation in its index.json)", dir, refAnnotation)
	}
	return out, nil
}

// platformImage picks Platform()'s image of an index.
func platformImage(idx v1.ImageIndex) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	want := Platform()
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for %s/%s in the index", want.OS, want.Architecture)
}
