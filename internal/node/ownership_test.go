package node

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestVolumeOwnershipGivesTheVolumeToFSGroup(t *testing.T) {
	gid := int64(os.Getgid())
	if os.Geteuid() == 0 {
		gid = 4321 // root may give files to any group
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	check := func(path string, want os.FileMode) {
		t.Helper()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if g := int64(fi.Sys().(*syscall.Stat_t).Gid); g != gid {
			t.Errorf("%s: group %d, want %d", path, g, gid)
		}
		if want != 0 && fi.Mode()&(os.ModePerm|os.ModeSetgid) != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode()&(os.ModePerm|os.ModeSetgid), want)
		}
	}
	psc := &corev1.PodSecurityContext{FSGroup: &gid}
	if err := volumeOwnership(dir, psc, false); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(dir, "sub"), os.ModeSetgid|0o770)
	check(filepath.Join(dir, "sub", "f"), 0o660)
	check(filepath.Join(dir, "link"), 0)

	// Read-only (projected) volumes get read permission only.
	ro := t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "key"), []byte("x"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := volumeOwnership(ro, psc, true); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(ro, "key"), 0o440)

	// OnRootMismatch leaves a volume whose root is already right alone.
	if err := os.Chmod(filepath.Join(dir, "sub", "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	psc.FSGroupChangePolicy = ptr.To(corev1.FSGroupChangeOnRootMismatch)
	if err := volumeOwnership(dir, psc, false); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(dir, "sub", "f"), 0o600)
	psc.FSGroupChangePolicy = ptr.To(corev1.FSGroupChangeAlways)
	if err := volumeOwnership(dir, psc, false); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(dir, "sub", "f"), 0o660)

	// No fsGroup: nothing changes.
	plain := t.TempDir()
	if err := volumeOwnership(plain, &corev1.PodSecurityContext{}, false); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(plain); fi.Mode()&os.ModeSetgid != 0 {
		t.Error("a volume without fsGroup got setgid")
	}
}
