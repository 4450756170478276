package image

import (
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestDecideGC(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old := now.Add(-time.Hour)
	imgs := []GCImage{
		{Ref: "a", Size: 30, FirstSeen: old, LastUsed: now.Add(-10 * time.Minute)},
		{Ref: "b", Size: 20, FirstSeen: old, LastUsed: now.Add(-50 * time.Minute)},
		{Ref: "used", Size: 500, FirstSeen: old, InUse: true},
		{Ref: "new", Size: 500, FirstSeen: now.Add(-time.Minute)},
		{Ref: "never-used", Size: 10, FirstSeen: old},
	}
	p := DefaultGCPolicy
	for _, c := range []struct {
		name string
		disk Disk
		want GCPlan
	}{
		{"below the high threshold", Disk{Capacity: 1000, Available: 160}, GCPlan{UsagePercent: 84}},
		{"at it: free down to the low one, least recently used first", Disk{Capacity: 1000, Available: 150},
			GCPlan{UsagePercent: 85, AmountToFree: 50, Remove: []string{"never-used", "b", "a"}, Freed: 60}},
		{"in use and young images stay, however full", Disk{Capacity: 1000, Available: 0},
			GCPlan{UsagePercent: 100, AmountToFree: 200, Remove: []string{"never-used", "b", "a"}, Freed: 60, Short: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := DecideGC(p, c.disk, imgs, now); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	if got := DecideGC(GCPolicy{HighPercent: 100}, Disk{Capacity: 1000}, imgs, now); len(got.Remove) != 0 {
		t.Errorf("high threshold 100 must disable collection: %+v", got)
	}
	if msg := (GCPlan{AmountToFree: 200, Freed: 60}).Message(); msg != "Failed to garbage collect required amount of images. Attempted to free 200 bytes, but only found 60 bytes eligible to free." {
		t.Errorf("message %q", msg)
	}
	for _, bad := range []GCPolicy{{HighPercent: 101}, {HighPercent: 80, LowPercent: 85}, {HighPercent: 85, LowPercent: -1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// Collect removes unused images from a real store until the (here
// simulated) disk is below the low threshold, and their blobs and roots
// with them.
func TestCollectRemovesLeastRecentlyUsedImages(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	lastUsed := map[string]time.Time{}
	for i, name := range []string{"example.com/one:1", "example.com/two:1", "example.com/three:1"} {
		img, err := Busybox("/bin/busybox", v1.Config{Cmd: []string{"sh"}, Env: []string{"N=" + name}})
		if err != nil {
			t.Skipf("no busybox-static: %v", err)
		}
		stored, err := s.put(name, img)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rootfs(name); err != nil {
			t.Fatal(err)
		}
		lastUsed[stored.Ref] = now.Add(time.Duration(i) * time.Minute)
	}
	before, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	// A disk the store fills to 90%: usage drops as images go.
	capacity := before * 100 / 90
	usage := func(img Image) GCImage {
		return GCImage{InUse: img.Ref == "example.com/one:1", FirstSeen: now.Add(-time.Hour), LastUsed: lastUsed[img.Ref]}
	}
	plan, err := s.Collect(DefaultGCPolicy, Disk{Capacity: capacity, Available: capacity - before}, usage, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plan.Remove, []string{"example.com/two:1"}) || plan.Short {
		t.Fatalf("plan %+v: want two (the least recently used unused image) only", plan)
	}
	imgs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, img := range imgs {
		left = append(left, img.Ref)
	}
	if !reflect.DeepEqual(left, []string{"example.com/one:1", "example.com/three:1"}) {
		t.Errorf("left %v", left)
	}
	after, _ := s.Usage()
	if freed := before - after; freed < plan.AmountToFree {
		t.Errorf("freed %d bytes on disk, wanted %d", freed, plan.AmountToFree)
	}
}

func TestStatusNames(t *testing.T) {
	d, _ := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	for _, c := range []struct{ ref, image, id string }{
		{"index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "docker.io/library/busybox@" + d.String()},
		{"127.0.0.1:5000/tools/greeter:1", "127.0.0.1:5000/tools/greeter:1", "127.0.0.1:5000/tools/greeter@" + d.String()},
	} {
		image, id := StatusNames(Image{Ref: c.ref, Digest: d})
		if image != c.image || id != c.id {
			t.Errorf("StatusNames(%s) = %s, %s; want %s, %s", c.ref, image, id, c.image, c.id)
		}
	}
}
