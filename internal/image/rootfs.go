package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"
)

func (s *Store) rootfsDir(id v1.Hash) string {
	return filepath.Join(s.dir, "rootfs", id.Hex)
}

// Rootfs returns the directory holding image's root file system, unpacking
// it on first use: the layers are flattened in order with their whiteouts
// applied (go-containerregistry's mutate.Extract), so each image is
// unpacked once and shared by its containers, which must not write to it.
func (s *Store) Rootfs(image string) (string, error) {
	img, ok, err := s.Get(image)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("image %q not found", image)
	}
	dir := s.rootfsDir(img.ID)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	unlock, err := s.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(dir); err == nil {
		return dir, nil // unpacked while we waited
	}
	idx, err := s.path.ImageIndex()
	if err != nil {
		return "", err
	}
	v1img, err := idx.Image(img.Digest)
	if err != nil {
		return "", err
	}
	tmp := dir + ".unpacking"
	if err := removeTree(tmp); err != nil {
		return "", err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	rc := mutate.Extract(v1img)
	defer rc.Close()
	if err := Untar(rc, tmp); err != nil {
		_ = removeTree(tmp)
		return "", fmt.Errorf("unpack %s: %w", img.Ref, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// Untar writes the tar stream r under root. Entries cannot leave root: names
// are cleaned, and no entry is written through a symbolic link (a link in
// the image may point anywhere, e.g. /etc -> /host/etc). Owners are kept
// when running as root; devices are made only then.
func Untar(r io.Reader, root string) error {
	asRoot := os.Geteuid() == 0
	tr := tar.NewReader(r)
	type dirMode struct {
		path string
		mode os.FileMode
	}
	var dirs []dirMode
	// mutate.Extract writes the top layer first: a hard link may come before
	// its target. Links are made once every file is in place.
	type hardLink struct{ src, target, rel string }
	var links []hardLink
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		rel := filepath.Clean("/" + h.Name)
		if rel == "/" {
			continue
		}
		target := filepath.Join(root, rel)
		if err := noSymlinkParents(root, rel); err != nil {
			return err
		}
		mode := os.FileMode(h.Mode).Perm()
		if h.Mode&04000 != 0 {
			mode |= os.ModeSetuid
		}
		if h.Mode&02000 != 0 {
			mode |= os.ModeSetgid
		}
		if h.Mode&01000 != 0 {
			mode |= os.ModeSticky
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if fi, err := os.Lstat(target); err == nil && !fi.IsDir() {
				if err := os.Remove(target); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{target, mode})
		case tar.TypeReg:
			if err := replace(target); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Chmod(target, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := replace(target); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			linkRel := filepath.Clean("/" + h.Linkname)
			if err := noSymlinkParents(root, linkRel); err != nil {
				return err
			}
			if err := replace(target); err != nil {
				return err
			}
			links = append(links, hardLink{src: filepath.Join(root, linkRel), target: target, rel: rel})
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			if !asRoot && h.Typeflag != tar.TypeFifo {
				continue // only root may make devices; images rarely ship them
			}
			if err := replace(target); err != nil {
				return err
			}
			kind := uint32(unix.S_IFIFO)
			switch h.Typeflag {
			case tar.TypeChar:
				kind = unix.S_IFCHR
			case tar.TypeBlock:
				kind = unix.S_IFBLK
			}
			if err := unix.Mknod(target, kind|uint32(mode.Perm()), int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))); err != nil {
				return err
			}
		default:
			continue // e.g. PAX or GNU metadata entries
		}
		if asRoot {
			if err := os.Lchown(target, h.Uid, h.Gid); err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg && mode&(os.ModeSetuid|os.ModeSetgid) != 0 {
				// chown clears set-id bits: put them back.
				if err := os.Chmod(target, mode); err != nil {
					return err
				}
			}
		}
	}
	for _, l := range links {
		fi, err := os.Lstat(l.src)
		if err != nil {
			return fmt.Errorf("%s: hard link target: %w", l.rel, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: hard link to a non-regular file", l.rel)
		}
		if err := os.Link(l.src, l.target); err != nil {
			return err
		}
	}
	// Directory modes last: a read-only directory must not stop its own
	// entries from being written.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return err
		}
	}
	return nil
}

// noSymlinkParents fails when a directory on the way to rel (exclusive)
// is a symbolic link inside root.
func noSymlinkParents(root, rel string) error {
	parts := strings.Split(strings.TrimPrefix(filepath.Dir(rel), "/"), "/")
	p := root
	for _, part := range parts {
		if part == "" {
			continue
		}
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755)
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s: a parent directory is a symbolic link in the image", rel)
		}
	}
	return nil
}

// replace removes whatever non-directory is at target.
func replace(target string) error {
	fi, err := os.Lstat(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return removeTree(target)
	}
	return os.Remove(target)
}

// removeTree removes dir, making read-only directories in it writable first.
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
