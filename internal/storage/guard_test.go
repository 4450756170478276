package storage

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestDecide(t *testing.T) {
	const mi = 1 << 20
	base := Observation{Size: 10 * mi, InUse: 8 * mi, Quota: 100 * mi, Free: 1000 * mi, Reserve: 64 * mi, Dir: "/data"}
	for _, tc := range []struct {
		name    string
		mutate  func(*Observation)
		want    Decision
		unready string
	}{
		{"healthy", nil, Decision{}, ""},
		{"disk below reserve: full, deletes and finalizer removals still go", func(o *Observation) { o.Free = 40 * mi },
			Decision{Full: true}, "data dir /data has 40.0 MiB free, less than the 64.0 MiB reserve; writes are refused until space is freed (deletes, finalizer removals and status updates are accepted)"},
		{"disk below a quarter of the reserve raises the alarm", func(o *Observation) { o.Free = 10 * mi },
			Decision{Full: true, Raise: true}, "data dir /data has 10.0 MiB free, less than the 64.0 MiB reserve; writes are refused until space is freed (below 16.0 MiB, all but deletes)"},
		{"disk below the floor, alarm already raised", func(o *Observation) { o.Free = 10 * mi; o.Alarmed = true }, Decision{Full: true}, "less than the 64.0 MiB reserve"},
		{"disk back above the floor: the alarm goes, still full", func(o *Observation) { o.Free = 40 * mi; o.Alarmed = true },
			Decision{Full: true, Disarm: true}, "less than the 64.0 MiB reserve"},
		{"read-only data dir", func(o *Observation) { o.WriteErr = syscall.EROFS },
			Decision{Full: true, Raise: true}, "data dir /data is not writable: read-only file system"},
		{"read-only wins over low disk", func(o *Observation) { o.WriteErr = syscall.EROFS; o.Free = 0 }, Decision{Full: true, Raise: true}, "not writable"},
		{"at the quota: full, compact", func(o *Observation) { o.Size = 100 * mi; o.InUse = 99 * mi },
			Decision{Full: true, Compact: true}, "etcd database space exceeded: 99.0 MiB of the 100.0 MiB quota in use; only reads and deletes are accepted until objects are deleted"},
		{"etcd's alarm at its own quota: compact, defrag and disarm, still full", func(o *Observation) { o.Alarmed = true; o.Size = 110 * mi; o.InUse = 99 * mi },
			Decision{Full: true, Compact: true, Defrag: true, Disarm: true}, "space exceeded"},
		{"etcd's alarm, no free pages: compact only", func(o *Observation) { o.Alarmed = true; o.Size = 110 * mi; o.InUse = 109 * mi },
			Decision{Full: true, Compact: true}, "space exceeded"},
		{"full, the file half into etcd's headroom with free pages: defrag while still full", func(o *Observation) { o.Size = 107 * mi; o.InUse = 95 * mi },
			Decision{Full: true, Compact: true, Defrag: true}, "space exceeded"},
		{"full, the file half into the headroom but few free pages: no defrag", func(o *Observation) { o.Size = 107 * mi; o.InUse = 105 * mi },
			Decision{Full: true, Compact: true}, "space exceeded"},
		{"full, the file just over the quota: compaction first", func(o *Observation) { o.Size = 102 * mi; o.InUse = 95 * mi },
			Decision{Full: true, Compact: true}, "space exceeded"},
		{"etcd's alarm with free pages while full: defrag and disarm, still full", func(o *Observation) { o.Alarmed = true; o.Size = 102 * mi; o.InUse = 95 * mi },
			Decision{Full: true, Compact: true, Defrag: true, Disarm: true}, "space exceeded"},
		{"full and the disk short: no defrag even in the headroom", func(o *Observation) { o.Free = 40 * mi; o.Alarmed = true; o.Size = 110 * mi; o.InUse = 95 * mi },
			Decision{Full: true, Compact: true}, "reserve"},
		{"at 90% still compacting", func(o *Observation) { o.Size = 101 * mi; o.InUse = 90 * mi }, Decision{Full: true, Compact: true}, "space exceeded"},
		{"at the quota with free pages: defrag", func(o *Observation) { o.Size = 100 * mi; o.InUse = 50 * mi },
			Decision{Defrag: true}, ""},
		{"objects deleted: defrag and disarm", func(o *Observation) { o.Alarmed = true; o.Size = 101 * mi; o.InUse = 20 * mi },
			Decision{Defrag: true, Disarm: true}, ""},
		{"alarm raised for the disk, disk back: disarm without defrag", func(o *Observation) { o.Alarmed = true },
			Decision{Disarm: true}, ""},
		{"low disk while over quota: no defrag (it copies the database)", func(o *Observation) { o.Alarmed = true; o.Size = 101 * mi; o.InUse = 20 * mi; o.Free = 40 * mi },
			Decision{Full: true, Disarm: true}, "reserve"},
		{"zero reserve never trips on a full disk", func(o *Observation) { o.Reserve = 0; o.Free = 0 }, Decision{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			if tc.mutate != nil {
				tc.mutate(&o)
			}
			got := Decide(o)
			if !strings.Contains(got.Unready, tc.unready) || (tc.unready == "") != (got.Unready == "") {
				t.Errorf("Unready = %q, want it to contain %q", got.Unready, tc.unready)
			}
			got.Unready = ""
			if got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHeadroom(t *testing.T) {
	for quota, want := range map[int64]int64{16 << 20: 8 << 20, 2 << 30: 256 << 20} {
		if got := Headroom(quota); got != want {
			t.Errorf("Headroom(%d) = %d, want %d", quota, got, want)
		}
	}
}

func TestProbeWritable(t *testing.T) {
	dir := t.TempDir()
	if err := ProbeWritable(dir); err != nil {
		t.Fatalf("writable dir: %v", err)
	}
	if err := ProbeWritable(dir + "/missing"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("missing dir: got %v, want ENOENT", err)
	}
}
