package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/server/v3/storage"
)

// DefaultReserve is the free space the data dir's file system must keep: one
// etcd WAL segment (64 MiB), which etcd preallocates when it cuts a new one.
const DefaultReserve = 64 << 20

// reclaimedBelow: the database counts as full until its live data is below
// this share of the quota, so a server at the brink does not flap.
const reclaimedBelow = 0.9

// ErrFull is what a write gets while the storage is full: etcd's own
// NOSPACE error, as a cluster's API server returns it.
var ErrFull = rpctypes.ErrNoSpace

// Headroom is how far etcd's own quota lies above the quota batchd enforces.
// At its quota etcd refuses every write but a delete, and a pod with a
// finalizer is deleted by writes: setting its deletionTimestamp, removing the
// finalizer (and the Job controller first records the pod in the Job's
// status). batchd refuses other writes at its own quota, so these still fit.
func Headroom(quota int64) int64 { return max(quota/8, 8<<20) }

// Observation is what the guard sees of the storage on one tick.
type Observation struct {
	// Alarmed: etcd's NOSPACE alarm is active (etcd then accepts only reads
	// and deletes).
	Alarmed bool
	// Size is the database file's size (what etcd's quota check reads);
	// InUse the part holding live data.
	Size, InUse int64
	// Quota is the database size at which only writes toward removing
	// objects are accepted (etcd's own quota is Headroom above it).
	Quota int64
	// Free is what the data dir's file system has left for us; Reserve the
	// least it must keep. Below a quarter of Reserve even writes toward
	// removal stop (etcd's alarm): only deletes go on.
	Free, Reserve int64
	// WriteErr is why a probe file could not be written in the data dir.
	WriteErr error
	// Dir is the data dir, for messages.
	Dir string
}

// Decision is what the guard does about an Observation.
type Decision struct {
	// Unready is why /readyz fails; "" when the storage is fine.
	Unready string
	// Full: the API accepts only writes that lead toward removing objects
	// (deletes, deletion marks, finalizer removals, status), not creates or
	// other updates.
	Full bool
	// Raise the NOSPACE alarm: writes stop, but for deletes, before the
	// disk runs out under etcd, which would exit rather than write a
	// partial WAL record.
	Raise bool
	// Compact the history so deleted objects' space counts as free.
	Compact bool
	// Defrag gives free pages back to the file system (etcd's quota check
	// reads the file size).
	Defrag bool
	// Disarm the alarm: etcd accepts writes again.
	Disarm bool
}

// Decide is the guard's policy. The disk comes first: with the file system
// short of the reserve the storage is full, and below a quarter of it (or
// read-only) etcd's alarm stops all but deletes; a defrag, which copies the
// database, is not attempted then. With the database at its quota (or etcd's
// alarm raised by etcd or by us) history is compacted until the live data is
// clearly under the quota, the file defragmented meanwhile if it eats into
// etcd's headroom; then the file is defragmented if it is still near the
// quota and the alarm is disarmed.
func Decide(o Observation) Decision {
	floor := o.Reserve / 4
	switch {
	case o.WriteErr != nil:
		return Decision{Unready: fmt.Sprintf("data dir %s is not writable: %v; writes are refused until it is", o.Dir, o.WriteErr), Full: true, Raise: !o.Alarmed}
	case o.Free < floor:
		return Decision{Unready: fmt.Sprintf("data dir %s has %s free, less than the %s reserve; writes are refused until space is freed (below %s, all but deletes)", o.Dir, mib(o.Free), mib(o.Reserve), mib(floor)), Full: true, Raise: !o.Alarmed}
	}
	var d Decision
	if o.Free < o.Reserve {
		d = Decision{Unready: fmt.Sprintf("data dir %s has %s free, less than the %s reserve; writes are refused until space is freed (deletes, finalizer removals and status updates are accepted)", o.Dir, mib(o.Free), mib(o.Reserve)), Full: true}
	}
	if !o.Alarmed && o.Size < o.Quota {
		return d
	}
	if float64(o.InUse) >= reclaimedBelow*float64(o.Quota) {
		// etcd's quota check reads the file's size, free pages included,
		// as of its last committed batch: a burst of writes admitted
		// before their batch lands, and the pages compaction frees, can
		// eat the headroom kept for writes toward removal. Once the
		// file has grown half into it (or etcd has raised its alarm),
		// give the free pages back at once if that wins a quarter of
		// the headroom, and disarm etcd's alarm; the gate still admits
		// only writes toward removal.
		shortDisk := d.Full
		headroom := Headroom(o.Quota)
		d.Full, d.Compact = true, true
		d.Defrag = !shortDisk && (o.Alarmed || o.Size >= o.Quota+headroom/2) && o.Size-o.InUse >= headroom/4
		d.Disarm = d.Defrag && o.Alarmed
		if d.Unready == "" {
			d.Unready = fmt.Sprintf("etcd database space exceeded: %s of the %s quota in use; only reads and deletes are accepted until objects are deleted", mib(o.InUse), mib(o.Quota))
		}
		return d
	}
	// The live data fits again: accept writes, and give the file's free
	// pages back unless the disk is short (a defrag copies the database).
	d.Disarm = o.Alarmed
	d.Defrag = !d.Full && float64(o.Size) >= reclaimedBelow*float64(o.Quota)
	return d
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Guard watches the embedded etcd's space and the data dir's file system and
// reports through Check what /readyz should say.
type Guard struct {
	etcd    *Etcd
	dir     string
	reserve int64
	quota   int64
	log     io.Writer

	mu     sync.Mutex
	reason string
	full   bool
}

// NewGuard guards e, whose data dir is dir.
func NewGuard(e *Etcd, dir string, reserve int64, log io.Writer) *Guard {
	quota := e.quota
	if quota <= 0 {
		quota = storage.DefaultQuotaBytes
	}
	if log == nil {
		log = os.Stderr
	}
	return &Guard{etcd: e, dir: dir, reserve: reserve, quota: quota, log: log}
}

// Check is the readyz check: nil while the storage accepts writes.
func (g *Guard) Check() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reason == "" {
		return nil
	}
	return errors.New(g.reason)
}

// Gate is the API server's write gate: ErrFull while the storage is full,
// when only writes toward removing objects may go through. The database's
// size is read live, so that a burst of writes between two ticks cannot
// fill etcd's headroom.
func (g *Guard) Gate() error {
	g.mu.Lock()
	full := g.full
	g.mu.Unlock()
	if full || g.etcd.e.Server.Backend().Size() >= g.quota {
		return ErrFull
	}
	return nil
}

// Run observes and acts every interval until ctx ends.
func (g *Guard) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		g.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *Guard) tick(ctx context.Context) {
	o := g.observe()
	d := Decide(o)
	var failed error
	srv := g.etcd.e.Server
	if d.Raise {
		_, failed = srv.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: uint64(srv.MemberID()), Alarm: pb.AlarmType_NOSPACE})
	}
	if d.Compact {
		// Compacting to the current revision fails harmlessly when it
		// already is compacted there.
		_, _ = srv.Compact(ctx, &pb.CompactionRequest{Revision: srv.KV().Rev(), Physical: true})
	}
	if d.Defrag && failed == nil {
		failed = srv.Backend().Defrag()
	}
	if d.Disarm && failed == nil {
		_, failed = srv.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_DEACTIVATE, MemberID: uint64(srv.MemberID()), Alarm: pb.AlarmType_NOSPACE})
	}
	reason := d.Unready
	if reason == "" && failed != nil {
		reason = fmt.Sprintf("recovering storage space: %v", failed)
	}
	g.mu.Lock()
	changed := reason != g.reason
	g.reason = reason
	g.full = d.Full
	g.mu.Unlock()
	if changed && ctx.Err() == nil {
		if reason == "" {
			fmt.Fprintf(g.log, "storage: space recovered; writes accepted again\n")
		} else {
			fmt.Fprintf(g.log, "storage: not ready: %s\n", reason)
		}
	}
}

func (g *Guard) observe() Observation {
	srv := g.etcd.e.Server
	o := Observation{Size: srv.Backend().Size(), InUse: srv.Backend().SizeInUse(), Quota: g.quota, Reserve: g.reserve, Dir: g.dir}
	for _, a := range srv.Alarms() {
		if a.Alarm == pb.AlarmType_NOSPACE {
			o.Alarmed = true
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(g.dir, &st); err != nil {
		o.WriteErr = err
	} else {
		o.Free = int64(st.Bavail) * st.Bsize
	}
	if o.WriteErr == nil {
		o.WriteErr = ProbeWritable(g.dir)
	}
	return o
}

// ProbeWritable creates, writes and removes a small file in dir.
func ProbeWritable(dir string) error {
	p := filepath.Join(dir, ".write-probe")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return unwrapPath(err)
	}
	_, err = f.Write([]byte("ok\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(p); err == nil {
		err = rerr
	}
	return unwrapPath(err)
}

// unwrapPath drops the probe file's path from an error: "read-only file
// system" says it, the probe's name would only confuse.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
