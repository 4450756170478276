package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// SubPathError is a subPath or subPathExpr the kubelet refuses (the
// container waits with CreateContainerConfigError and this message).
type SubPathError struct{ Message string }

func (e *SubPathError) Error() string { return e.Message }

// CheckSubPath is the kubelet's check of a subPath after expansion: relative,
// and with no `..` component.
func CheckSubPath(sub string) error {
	if filepath.IsAbs(sub) {
		return &SubPathError{Message: fmt.Sprintf("error SubPath `%s` must not be an absolute path", sub)}
	}
	for _, part := range strings.Split(filepath.ToSlash(sub), "/") {
		if part == ".." {
			return &SubPathError{Message: fmt.Sprintf("unable to provision SubPath `%s`: must not contain '..'", sub)}
		}
	}
	return nil
}

// PrepareSubPath makes root/sub (sub checked by CheckSubPath) visible at
// stage, a path the pod cannot reach, and returns stage. A missing subPath
// is created as a directory, as the kubelet creates it. Symlinks inside the
// volume are followed only while they stay inside it; the result is then
// opened one component at a time without following links, and the open
// file is what gets bind-mounted, so a link the pod swaps in meanwhile
// cannot point the mount elsewhere. The mount at stage stays until
// UnmountUnder removes it.
func PrepareSubPath(root, sub, stage string) (string, error) {
	if err := CheckSubPath(sub); err != nil {
		return "", err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolve volume path: %w", err)
	}
	if err := makeBeneath(realRoot, sub); err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(realRoot, sub))
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(realRoot, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("subpath %q not within volume path %q", resolved, realRoot)
	}
	fd, err := openBeneath(realRoot, rel)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(stage), 0o700); err != nil {
		return "", err
	}
	if isMounted(stage) {
		if err := unix.Unmount(stage, unix.MNT_DETACH); err != nil {
			return "", fmt.Errorf("unmount stale subpath: %w", err)
		}
	}
	_ = os.Remove(stage)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(stage, 0o700)
	} else {
		var f *os.File
		if f, err = os.OpenFile(stage, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return "", fmt.Errorf("create subpath mount point: %w", err)
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), stage, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("bind subpath: %w", err)
	}
	return stage, nil
}

// makeBeneath creates the directories of sub missing under root, never
// following a symlink while doing so.
func makeBeneath(root, sub string) error {
	if _, err := os.Lstat(filepath.Join(root, sub)); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil // there (or unreadable): resolution decides
	}
	// The part that exists may go through links inside the volume.
	existing := filepath.Join(root, sub)
	var missing []string
	for {
		if _, err := os.Stat(existing); err == nil {
			break
		}
		missing = append([]string{filepath.Base(existing)}, missing...)
		existing = filepath.Dir(existing)
		if len(existing) < len(root) {
			return fmt.Errorf("subpath %q not within volume path %q", sub, root)
		}
	}
	resolved, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("subpath %q not within volume path %q", sub, root)
	}
	fd, err := openBeneath(root, rel)
	if err != nil {
		return err
	}
	for _, name := range missing {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return fmt.Errorf("create subpath directory %s: %w", name, err)
		}
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("open subpath directory %s: %w", name, err)
		}
		fd = next
	}
	unix.Close(fd)
	return nil
}

// openBeneath opens root/rel with O_PATH, refusing a symlink at any
// component.
func openBeneath(root, rel string) (int, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open volume: %w", err)
	}
	if rel == "." {
		return fd, nil
	}
	for _, name := range strings.Split(rel, "/") {
		if name == "" || name == "." {
			continue
		}
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("open subpath component %s: %w", name, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(next)
			return -1, fmt.Errorf("subpath component %s is a symlink", name)
		}
		fd = next
	}
	return fd, nil
}

// isMounted tells whether path is a mount point (its device differs from
// its parent's, or it is a bind of the same file system: mountinfo).
func isMounted(path string) bool { return slices.Contains(MountPoints(), path) }

// UnmountUnder unmounts everything mounted at or below dir, deepest first.
func UnmountUnder(dir string) {
	var targets []string
	for _, t := range MountPoints() {
		if t == dir || strings.HasPrefix(t, dir+"/") {
			targets = append(targets, t)
		}
	}
	Unmount(targets)
}
