package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LoadOptions size the load benchmark.
type LoadOptions struct {
	Binary   string
	Runs     int
	Stored   int           // Jobs stored before the load starts
	Watchers int           // concurrent watches of every Job
	Clients  int           // concurrent clients issuing get/list/create
	Duration time.Duration // how long the clients run
	Out      io.Writer
}

// loadResult is one run's figures.
type loadResult struct {
	p50, p99       map[string]float64 // by operation, seconds
	ops            int
	events         float64 // watch events per watcher
	rssMax, rssEnd float64 // MiB
}

var loadOps = []string{"get", "list (500)", "create"}

// Load stores o.Stored Jobs, opens o.Watchers watches on them, then has
// o.Clients clients get a random Job, list a page of 500 (kubectl's chunk)
// and create a Job in turn for o.Duration, and reports the latency of each
// operation, the events each watcher saw, and the server's memory.
func Load(ctx context.Context, o LoadOptions) error {
	tmp, err := begin(o.Out, "batchd-bench-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var results []loadResult
	for i := 0; i < o.Runs; i++ {
		r, err := loadRun(ctx, o, filepath.Join(tmp, fmt.Sprintf("run-%d", i)))
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	pick := func(f func(loadResult) float64) []float64 {
		out := make([]float64, len(results))
		for i, r := range results {
			out[i] = f(r)
		}
		return out
	}
	what := fmt.Sprintf("%d Jobs stored, %d watchers, %d clients", o.Stored, o.Watchers, o.Clients)
	for _, op := range loadOps {
		rowMedian(o.Out, fmt.Sprintf("%s p50, %s (ms)", op, what), pick(func(r loadResult) float64 { return r.p50[op] * 1000 }), "%.1f")
		rowMedian(o.Out, fmt.Sprintf("%s p99, %s (ms)", op, what), pick(func(r loadResult) float64 { return r.p99[op] * 1000 }), "%.1f")
	}
	rowMedian(o.Out, fmt.Sprintf("requests/s over %s, %s", o.Duration, what), pick(func(r loadResult) float64 { return float64(r.ops) / o.Duration.Seconds() }), "%.0f")
	rowMedian(o.Out, "watch events per watcher (= Jobs created under load)", pick(func(r loadResult) float64 { return r.events }), "%.0f")
	rowMedian(o.Out, "server RSS, highest sampled under load (MiB)", pick(func(r loadResult) float64 { return r.rssMax }), "%.0f")
	rowMedian(o.Out, "server RSS at the end (MiB)", pick(func(r loadResult) float64 { return r.rssEnd }), "%.0f")
	return nil
}

func loadRun(ctx context.Context, o LoadOptions, dir string) (loadResult, error) {
	res := loadResult{p50: map[string]float64{}, p99: map[string]float64{}}
	p, err := startServer(o.Binary, dir)
	if err != nil {
		return res, err
	}
	defer stop(p)
	c, err := client(p)
	if err != nil {
		return res, err
	}
	if _, err := createJobs(ctx, c, "default", o.Stored, 32, "stored"); err != nil {
		return res, err
	}
	head, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return res, err
	}
	// Watches start after what is stored (no synthetic ADDED events), each
	// on a connection of its own as separate clients' would be.
	wctx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	var events atomic.Int64
	var wwg sync.WaitGroup
	for i := 0; i < o.Watchers; i++ {
		wc, err := client(p)
		if err != nil {
			return res, err
		}
		w, err := wc.BatchV1().Jobs("default").Watch(wctx, metav1.ListOptions{ResourceVersion: head.ResourceVersion, AllowWatchBookmarks: true})
		if err != nil {
			return res, fmt.Errorf("watch %d: %w", i, err)
		}
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for ev := range w.ResultChan() {
				if ev.Type == "ADDED" {
					events.Add(1)
				}
			}
		}()
	}

	lat := map[string][]float64{}
	var mu sync.Mutex
	var created atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(o.Duration)
	var cwg sync.WaitGroup
	for i := 0; i < o.Clients; i++ {
		cwg.Add(1)
		go func(id int) {
			defer cwg.Done()
			rng := rand.New(rand.NewPCG(uint64(id), 1))
			local := map[string][]float64{}
			defer func() {
				mu.Lock()
				for k, v := range local {
					lat[k] = append(lat[k], v...)
				}
				mu.Unlock()
			}()
			for n := 0; time.Now().Before(deadline); n++ {
				op := loadOps[n%len(loadOps)]
				start := time.Now()
				var err error
				switch op {
				case "get":
					_, err = c.BatchV1().Jobs("default").Get(ctx, fmt.Sprintf("stored-%d", rng.IntN(o.Stored)), metav1.GetOptions{})
				case "list (500)":
					_, err = c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{Limit: 500})
				case "create":
					_, err = c.BatchV1().Jobs("default").Create(ctx, benchJob(fmt.Sprintf("load-%d", created.Add(1))), metav1.CreateOptions{})
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("%s: %w", op, err) })
					return
				}
				local[op] = append(local[op], time.Since(start).Seconds())
			}
		}(i)
	}
	// Sample the server's memory while the clients run.
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for time.Now().Before(deadline) {
			if rss, _, err := p.Memory(); err == nil && rss > res.rssMax {
				res.rssMax = rss
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	cwg.Wait()
	<-sampled
	if firstErr != nil {
		return res, firstErr
	}
	// Every watcher must see every create: wait for the stragglers.
	want := created.Load() * int64(o.Watchers)
	for end := time.Now().Add(30 * time.Second); events.Load() < want && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := events.Load(); got != want {
		return res, fmt.Errorf("watchers saw %d ADDED events, want %d (%d creates × %d watchers)", got, want, created.Load(), o.Watchers)
	}
	res.events = float64(created.Load())
	cancelWatch()
	wwg.Wait()
	for _, op := range loadOps {
		v := lat[op]
		if len(v) == 0 {
			return res, fmt.Errorf("no %s completed", op)
		}
		sort.Float64s(v)
		res.p50[op], res.p99[op] = v[len(v)/2], v[(len(v)*99+99)/100-1]
		res.ops += len(v)
	}
	res.rssEnd, _, err = p.Memory()
	return res, err
}
