package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// RootfsMode is how a container gets its private, writable root file system
// over an image's read-only one.
type RootfsMode int

const (
	// RootfsAuto probes once whether the kernel mounts overlayfs with its
	// upper directory under the runtime's Dir, and uses overlays if so,
	// copies otherwise.
	RootfsAuto RootfsMode = iota
	// RootfsOverlay mounts an overlay per container (the image its lower
	// layer): cheap, and the image is never written.
	RootfsOverlay
	// RootfsCopy copies the image's root per container: for kernels or
	// file systems without overlayfs (an upper directory on overlayfs, say).
	RootfsCopy
)

// overlayWorks tries an overlay mount under dir and takes it down again.
func overlayWorks(dir string) error {
	probe, err := os.MkdirTemp(dir, ".overlay-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(probe)
	dirs := map[string]string{}
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		dirs[d] = filepath.Join(probe, d)
		if err := os.Mkdir(dirs[d], 0o700); err != nil {
			return err
		}
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", dirs["lower"], dirs["upper"], dirs["work"])
	if err := unix.Mount("overlay", dirs["merged"], "overlay", 0, data); err != nil {
		return err
	}
	return unix.Unmount(dirs["merged"], unix.MNT_DETACH)
}

// rootfsMode resolves RootfsAuto, once.
func (r *Local) rootfsMode() RootfsMode {
	r.modeOnce.Do(func() {
		r.mode = r.cfg.Rootfs
		if r.mode != RootfsAuto {
			return
		}
		r.mode = RootfsOverlay
		if err := overlayWorks(r.cfg.Dir); err != nil {
			r.mode = RootfsCopy
			fmt.Fprintf(r.cfg.Log, "node: overlayfs is not usable under %s (%v): each OCI container gets a copy of its image's root file system\n", r.cfg.Dir, err)
		}
	})
	return r.mode
}

// copyTree copies the file system tree at src to dst (which must not
// exist): directories, regular files, symlinks, device nodes, fifos and
// sockets, with their modes, owners and modification times; hard links
// become copies.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("copy %s: no stat", path)
		}
		mode := fi.Mode()
		switch {
		case mode.IsDir():
			err = os.Mkdir(target, 0o700)
		case mode.IsRegular():
			err = copyFile(path, target)
		case mode&os.ModeSymlink != 0:
			var link string
			if link, err = os.Readlink(path); err == nil {
				err = os.Symlink(link, target)
			}
		case mode&(os.ModeDevice|os.ModeNamedPipe|os.ModeSocket) != 0:
			err = unix.Mknod(target, st.Mode, int(st.Rdev))
		default:
			return fmt.Errorf("copy %s: unsupported file type %v", path, mode.Type())
		}
		if err != nil {
			return err
		}
		if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, syscall.EPERM) {
			return err
		}
		if mode&os.ModeSymlink != 0 {
			return nil
		}
		// Permission bits with setuid/setgid/sticky, after chown (which clears setuid).
		if err := unix.Chmod(target, st.Mode&0o7777); err != nil {
			return err
		}
		return unix.UtimesNano(target, []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())})
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
