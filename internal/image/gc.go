package image

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// GCPolicy is the kubelet's image garbage collection policy: when the
// image file system is HighPercent full or more, unused images are removed,
// least recently used first, until it is LowPercent full; images first seen
// less than MinAge ago are kept. HighPercent 100 turns collection off.
type GCPolicy struct {
	HighPercent, LowPercent int
	MinAge                  time.Duration
}

// DefaultGCPolicy is the kubelet's defaults (--image-gc-high-threshold=85,
// --image-gc-low-threshold=80, --image-minimum-gc-age=2m).
var DefaultGCPolicy = GCPolicy{HighPercent: 85, LowPercent: 80, MinAge: 2 * time.Minute}

// Validate says what is wrong with p, in the kubelet's terms.
func (p GCPolicy) Validate() error {
	switch {
	case p.HighPercent < 0 || p.HighPercent > 100:
		return fmt.Errorf("--image-gc-high-threshold %d must be between 0 and 100, inclusive", p.HighPercent)
	case p.LowPercent < 0 || p.LowPercent > 100:
		return fmt.Errorf("--image-gc-low-threshold %d must be between 0 and 100, inclusive", p.LowPercent)
	case p.LowPercent > p.HighPercent:
		return fmt.Errorf("--image-gc-low-threshold %d must be less than or equal to --image-gc-high-threshold %d", p.LowPercent, p.HighPercent)
	case p.MinAge < 0:
		return fmt.Errorf("--image-minimum-gc-age %v must not be negative", p.MinAge)
	}
	return nil
}

// Disk is the image file system's size and free space, in bytes.
type Disk struct{ Capacity, Available int64 }

// GCImage is what collection knows of a stored image: the bytes removing
// it frees, whether a pod on the node uses it, when it was first seen (by
// this process) and last used.
type GCImage struct {
	Ref                 string
	Size                int64
	InUse               bool
	FirstSeen, LastUsed time.Time
}

// GCPlan is what to remove: AmountToFree bytes are wanted, Remove frees
// Freed of them; Short is true when that is not enough (the kubelet's
// FreeDiskSpaceFailed).
type GCPlan struct {
	UsagePercent int
	AmountToFree int64
	Remove       []string
	Freed        int64
	Short        bool
}

// DecideGC is the kubelet's image garbage collection decision.
func DecideGC(p GCPolicy, disk Disk, images []GCImage, now time.Time) GCPlan {
	if disk.Capacity <= 0 || p.HighPercent >= 100 {
		return GCPlan{}
	}
	plan := GCPlan{UsagePercent: int(100 - disk.Available*100/disk.Capacity)}
	if plan.UsagePercent < p.HighPercent {
		return plan
	}
	plan.AmountToFree = disk.Capacity*int64(100-p.LowPercent)/100 - disk.Available
	if plan.AmountToFree <= 0 {
		return plan
	}
	var candidates []GCImage
	for _, img := range images {
		if !img.InUse && now.Sub(img.FirstSeen) >= p.MinAge {
			candidates = append(candidates, img)
		}
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		if !candidates[i].LastUsed.Equal(candidates[j].LastUsed) {
			return candidates[i].LastUsed.Before(candidates[j].LastUsed)
		}
		return candidates[i].FirstSeen.Before(candidates[j].FirstSeen)
	})
	for _, img := range candidates {
		if plan.Freed >= plan.AmountToFree {
			break
		}
		plan.Remove = append(plan.Remove, img.Ref)
		plan.Freed += img.Size
	}
	plan.Short = plan.Freed < plan.AmountToFree
	return plan
}

// Message is the kubelet's FreeDiskSpaceFailed message for a short plan.
func (p GCPlan) Message() string {
	return fmt.Sprintf("Failed to garbage collect required amount of images. Attempted to free %d bytes, but only found %d bytes eligible to free.", p.AmountToFree, p.Freed)
}

// Disk is the file system the store is on.
func (s *Store) Disk() (Disk, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return Disk{}, err
	}
	return Disk{Capacity: int64(st.Blocks) * st.Bsize, Available: int64(st.Bavail) * st.Bsize}, nil
}

// DiskSize is the bytes removing img would free at most: its compressed
// layers and config plus its unpacked root file system, if unpacked.
func (s *Store) DiskSize(img Image) int64 {
	size := img.Size
	_ = filepath.WalkDir(s.rootfsDir(img.ID), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	return size
}

// Collect removes what DecideGC says for the stored images on disk; usage
// says of each image whether a pod uses it and when it was first seen and
// last used.
func (s *Store) Collect(p GCPolicy, disk Disk, usage func(Image) GCImage, now time.Time) (GCPlan, error) {
	imgs, err := s.List()
	if err != nil {
		return GCPlan{}, err
	}
	var in []GCImage
	for _, img := range imgs {
		u := usage(img) // every time: it is how images are first seen
		u.Ref = img.Ref
		in = append(in, u)
	}
	if plan := DecideGC(p, disk, nil, now); plan.AmountToFree <= 0 {
		return plan, nil // below the threshold: no image need be measured
	}
	for i, img := range imgs {
		in[i].Size = s.DiskSize(img)
	}
	plan := DecideGC(p, disk, in, now)
	for _, ref := range plan.Remove {
		if err := s.Remove(ref); err != nil {
			return plan, fmt.Errorf("remove image %s: %w", ref, err)
		}
	}
	return plan, nil
}
