package runtime

import (
	"slices"
	"strings"

	"github.com/batchd/batchd/internal/node/volume"
)

// isMountPoint tells whether dir is mounted on.
func isMountPoint(dir string) bool { return slices.Contains(volume.MountPoints(), dir) }

// mountedUnder is a mount point below dir, or "".
func mountedUnder(dir string) string {
	for _, m := range volume.MountPoints() {
		if strings.HasPrefix(m, dir+"/") {
			return m
		}
	}
	return ""
}

// unmountUnder unmounts what is mounted below dir (memory-backed emptyDirs).
func unmountUnder(dir string) {
	var targets []string
	for _, m := range volume.MountPoints() {
		if strings.HasPrefix(m, dir+"/") {
			targets = append(targets, m)
		}
	}
	volume.Unmount(targets)
}
