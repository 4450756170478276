package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	goruntime "runtime"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	runclient "github.com/batchd/batchd/internal/apis/batchd/client"
	"github.com/batchd/batchd/internal/apiserver"
	"github.com/batchd/batchd/internal/controller"
	"github.com/batchd/batchd/internal/controller/clusterrole"
	"github.com/batchd/batchd/internal/controller/cronjob"
	"github.com/batchd/batchd/internal/controller/endpoint"
	"github.com/batchd/batchd/internal/controller/gc"
	runhistory "github.com/batchd/batchd/internal/controller/history"
	"github.com/batchd/batchd/internal/controller/job"
	"github.com/batchd/batchd/internal/controller/namespace"
	"github.com/batchd/batchd/internal/controller/nodelifecycle"
	"github.com/batchd/batchd/internal/controller/podgc"
	"github.com/batchd/batchd/internal/controller/priority"
	"github.com/batchd/batchd/internal/controller/rootca"
	"github.com/batchd/batchd/internal/controller/serviceaccount"
	"github.com/batchd/batchd/internal/controller/tainteviction"
	"github.com/batchd/batchd/internal/controller/ttl"
	"github.com/batchd/batchd/internal/eventsink"
	"github.com/batchd/batchd/internal/history"
	"github.com/batchd/batchd/internal/leader"
	"github.com/batchd/batchd/internal/scheduler"
	"github.com/batchd/batchd/internal/vclock"
)

// election is how this server campaigns for the leases that guard what
// must act once in a cluster.
type election struct {
	// Identity is this server's, stable per data dir (leader.Identity).
	Identity string
	Timing   leader.Timing
	Log      io.Writer
}

// nodeHealth configures the controllers that watch nodes and act on lost
// ones. They run on the machine's clock even when the server's is virtual:
// heartbeats are real.
type nodeHealth struct {
	Timing      nodelifecycle.Timing
	PodGCPeriod time.Duration
}

// controllerSet runs the server's in-process controllers; stop waits until
// they have stopped and their leases are released.
type controllerSet struct {
	clock clock.WithTicker
	node  *nodeRuntime
	// caCert is the cluster CA, published in every namespace as
	// kube-root-ca.crt (the loopback client has none: it does not speak TLS).
	caCert     []byte
	runHistory RunHistory
	runLogs    *history.Store
	election   election
	// noScheduler: no scheduler campaigns (Config.DisableScheduler).
	noScheduler bool
	nodeHealth  nodeHealth

	mu        sync.Mutex
	campaigns []chan struct{}
	// cancel ends the campaigns; stopping is set once stop was called.
	cancel   context.CancelFunc
	stopping bool
	// endRun ends the rest (the node agent, the informers, the event
	// broadcaster) once the campaigns have; ended is closed when they
	// have stopped.
	endRun context.CancelFunc
	ended  <-chan struct{}
}

// start runs the controllers on the loopback client until ctx ends. It
// returns once they are started: the node agent at once, on every server;
// the controllers (kube-system/kube-controller-manager) and the scheduler
// (kube-system/kube-scheduler) whenever this server holds their Lease.
func (s *controllerSet) start(ctx context.Context, loopback *restclient.Config) error {
	// Each part speaks as its upstream counterpart: its user agent, and so
	// the field manager of its writes (a Job's status is
	// kube-controller-manager's, a pod's kubelet's), as on a cluster.
	loopback = controller.QuietConfig(speakingAs(loopback, "kube-controller-manager"))
	// A CronJob slot's Job creates go first: every other in-process
	// client's writes wait while the CronJob controller creates a Job, at
	// most slotFirstFor each (package priority). The controllers' Lease is
	// renewed on the first client too.
	gate := priority.New(clock.RealClock{}, slotFirstFor)
	first := slotClient{hold: gate.Hold}
	var err error
	if first.client, err = kubernetes.NewForConfig(loopback); err != nil {
		return err
	}
	loopback = restclient.CopyConfig(loopback)
	loopback.Wrap(gate.Wrap)
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return err
	}
	schedulerClient, err := kubernetes.NewForConfig(speakingAs(loopback, "kube-scheduler"))
	if err != nil {
		return err
	}
	kubeletClient, err := kubernetes.NewForConfig(speakingAs(loopback, "kubelet"))
	if err != nil {
		return err
	}
	// What the hook starts runs until stop ends it, while the API server
	// still serves (the hook's ctx ends only as its HTTP server stops):
	// their watches and connections are closed by then, rather than cut.
	ctx, endRun := context.WithCancel(ctx)
	var sink record.EventSink = &typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")}
	var schedulerSink events.EventSink = &events.EventSinkImpl{Interface: client.EventsV1()}
	if v, ok := s.clock.(*vclock.Clock); ok {
		// Events carry the virtual time, as the status they explain does.
		sink, schedulerSink = vclock.RecordSink(sink, v), vclock.EventsSink(schedulerSink, v)
	}
	// The events are written until everything that records them has
	// stopped, and those recorded by then (a leader's "stopped leading")
	// are written before stop returns and the HTTP server stops.
	broadcaster := eventsink.New(ctx, sink)
	// One informer cache for both elected halves, started by the first
	// term and kept (a server that led once is ready to lead again). A
	// term's controllers are new, registered on it when the term begins;
	// those of a term that ended stay registered and idle (their queues
	// are shut down) — a lost lease is rare, and a second cache of every
	// pod would cost more.
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute, informers.WithTransform(controller.DropManagedFields))
	startFactory := func() { factory.Start(ctx.Done()) }
	agentDone := s.node.startAgent(ctx, kubeletClient, broadcaster)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		<-ctx.Done()
		<-agentDone
		flushEvents(broadcaster, s.election.Log)
		factory.Shutdown()
	}()

	// The elected controllers stop first, in stop, then the rest.
	elected, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel, s.endRun, s.ended = cancel, endRun, ended
	if s.stopping {
		cancel()
		endRun()
	}
	s.mu.Unlock()
	logf := func(format string, args ...any) { fmt.Fprintf(s.election.Log, format+"\n", args...) }
	campaign := func(name, component string, client kubernetes.Interface, lead func(context.Context)) {
		done := make(chan struct{})
		s.mu.Lock()
		s.campaigns = append(s.campaigns, done)
		s.mu.Unlock()
		go func() {
			defer close(done)
			// The Lease's namespace is made by another post-start hook:
			// a campaign begun before would wait a retry period.
			if err := waitForNamespace(elected, client, leader.Namespace); err != nil {
				return
			}
			err := leader.Run(elected, leader.Config{
				Client: client, Name: name, Identity: s.election.Identity, Timing: s.election.Timing, Logf: logf,
				Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}),
			}, lead)
			if err != nil {
				logf("%v", err)
			}
		}()
	}
	campaign(leader.ControllerManager, leader.ControllerManager, first.client, func(ctx context.Context) {
		if err := s.runControllers(ctx, loopback, client, first, factory, startFactory, broadcaster); err != nil && ctx.Err() == nil {
			logf("controllers: %v", err)
		}
	})
	// The scheduler runs on the leading server whether or not it runs an
	// agent itself: agents of other machines need it.
	if !s.noScheduler {
		campaign(leader.Scheduler, scheduler.Name, schedulerClient, func(ctx context.Context) {
			sched := scheduler.New(schedulerClient, factory, schedulerSink)
			startFactory()
			factory.WaitForCacheSync(ctx.Done())
			if ctx.Err() == nil {
				sched.Run(ctx)
			}
		})
	}
	return nil
}

// stop ends the campaigns and waits, up to timeout, until they have
// ended: the controllers stopped and their leases released, which needs
// the API server still serving (a pre-shutdown hook).
func (s *controllerSet) stop(timeout time.Duration) {
	s.mu.Lock()
	s.stopping = true
	if s.cancel != nil {
		s.cancel()
	}
	campaigns, endRun, ended := s.campaigns, s.endRun, s.ended
	s.mu.Unlock()
	deadline := time.After(timeout)
	for _, done := range campaigns {
		select {
		case <-done:
		case <-deadline:
			fmt.Fprintf(s.election.Log, "controllers still stopping after %s; their leases run out on their own\n", timeout)
			return
		}
	}
	if endRun == nil {
		return // never started
	}
	endRun()
	select {
	case <-ended:
	case <-deadline:
		fmt.Fprintf(s.election.Log, "node agent still stopping after %s\n", timeout)
	}
}

// flushEventsTimeout bounds the wait for the last events at a stop: client-go
// retries a failed write after 10 s, longer than a stop should wait.
const flushEventsTimeout = 5 * time.Second

// flushEvents writes the events recorded so far, then stops the broadcaster.
// Call it once nothing records any more.
func flushEvents(p *eventsink.Pipeline, log io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), flushEventsTimeout)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		fmt.Fprintf(log, "events: the last ones are not all written after %s; dropping the rest\n", flushEventsTimeout)
	}
	p.Shutdown()
}

// waitForNamespace polls until namespace ns exists or ctx ends.
func waitForNamespace(ctx context.Context, client kubernetes.Interface, ns string) error {
	return wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err == nil, nil
	})
}

// slotFirstFor bounds how long another client's write waits for a CronJob
// slot's creates: a burst of 10,000 delays the rest, never starves it.
const slotFirstFor = time.Second

// slotClient is the CronJob controller's client, whose writes go first, and
// the hold that makes the other clients' writes wait.
type slotClient struct {
	client kubernetes.Interface
	hold   func() (release func())
}

// runControllers runs the controllers until ctx ends and returns once
// they have all stopped.
func (s *controllerSet) runControllers(ctx context.Context, loopback *restclient.Config, client kubernetes.Interface, first slotClient, factory informers.SharedInformerFactory, startFactory func(), broadcaster record.EventBroadcaster) error {
	meta, err := metadata.NewForConfig(loopback)
	if err != nil {
		return err
	}
	sa, err := serviceaccount.New(serviceaccount.Config{Client: client, Informer: factory})
	if err != nil {
		return err
	}
	ns, err := namespace.New(namespace.Config{Client: client, Meta: meta, Informer: factory})
	if err != nil {
		return err
	}
	jobController, err := job.New(job.Config{
		Client: client, Informer: factory, Clock: s.clock,
		Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: job.Component}),
		Register: exportMetric,
	})
	if err != nil {
		return err
	}
	var historyController *runhistory.Controller
	if s.runHistory.Enabled {
		runs, err := runclient.NewForConfig(loopback)
		if err != nil {
			return err
		}
		historyController, err = runhistory.New(runhistory.Config{Runs: runhistory.ClientRuns{Client: runs}, Informer: factory, Logs: s.runLogs, Clock: s.clock,
			Retention: runhistory.Retention{Age: s.runHistory.Retention, PerCronJob: s.runHistory.PerCronJob}})
		if err != nil {
			return err
		}
	}
	cronCfg := cronjob.Config{
		Client: first.client, HoldOthers: first.hold, Informer: factory, Clock: s.clock,
		// The CronJobs' statuses after their Jobs, at a slot (gate-wrapped).
		StatusClient: client,
		Recorder:     broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: cronjob.Component}),
		Register:     exportMetric,
	}
	if historyController != nil {
		cronCfg.Skips = historyController
	}
	// A virtual clock does not read the API's creationTimestamps.
	_, cronCfg.CreatedWhenSeen = s.clock.(*vclock.Clock)
	cronJobController, err := cronjob.New(cronCfg)
	if err != nil {
		return err
	}
	ttlController, err := ttl.New(ttl.Config{Client: client, Informer: factory, Clock: s.clock})
	if err != nil {
		return err
	}
	rootCA, err := rootca.New(rootca.Config{Client: client, Informer: factory, CA: s.caCert})
	if err != nil {
		return err
	}
	aggregation, err := clusterrole.New(clusterrole.Config{Client: client, Informer: factory})
	if err != nil {
		return err
	}
	endpoints, err := endpoint.New(endpoint.Config{Client: client, Informer: factory})
	if err != nil {
		return err
	}
	nodes := nodelifecycle.New(nodelifecycle.Config{Client: client, Informer: factory, Timing: s.nodeHealth.Timing,
		Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: nodelifecycle.Component})})
	evictions, err := tainteviction.New(tainteviction.Config{Client: client, Informer: factory,
		Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: tainteviction.Component})})
	if err != nil {
		return err
	}
	podGC := podgc.New(podgc.Config{Client: client, Informer: factory, Period: s.nodeHealth.PodGCPeriod})
	// The collector discovers what to watch; a transient discovery error
	// is retried, each time on a fresh informer factory.
	var (
		collector   *gc.Controller
		metaFactory metadatainformer.SharedInformerFactory
	)
	// Its discovery takes no context: requests of its own, ended with ctx,
	// keep a stop during the start from waiting on them (and on retries).
	disc, err := discovery.NewDiscoveryClientForConfig(endWith(ctx, loopback))
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		metaFactory = metadatainformer.NewSharedInformerFactoryWithOptions(meta, 10*time.Minute, metadatainformer.WithTransform(controller.DropManagedFields))
		collector, err = gc.New(gc.Config{Client: meta, Discovery: disc, Informer: metaFactory})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("start garbage collector: %w", err)
	}
	startFactory()
	metaFactory.Start(ctx.Done())
	defer metaFactory.Shutdown()
	// Controllers act on what their listers show; start them on a full cache.
	factory.WaitForCacheSync(ctx.Done())
	metaFactory.WaitForCacheSync(ctx.Done())
	if ctx.Err() != nil {
		return nil
	}
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(sa.Run)
	run(ns.Run)
	run(collector.Run)
	run(ttlController.Run)
	run(rootCA.Run)
	run(aggregation.Run)
	run(endpoints.Run)
	run(jobController.Run)
	run(cronJobController.Run)
	run(nodes.Run)
	run(evictions.Run)
	run(podGC.Run)
	if historyController != nil {
		run(historyController.Run)
	}
	wg.Wait()
	return nil
}

// speakingAs is cfg with component's user agent, in upstream's form
// ("kube-controller-manager/v1.37.2+batchd (linux/amd64) batchd"): the API
// server names the field manager of a write by what precedes its "/".
func speakingAs(cfg *restclient.Config, component string) *restclient.Config {
	cfg = restclient.CopyConfig(cfg)
	cfg.UserAgent = fmt.Sprintf("%s/%s (%s/%s) batchd", component, apiserver.KubernetesVersion, goruntime.GOOS, goruntime.GOARCH)
	return cfg
}

// endWith is cfg whose requests end when ctx does.
func endWith(ctx context.Context, cfg *restclient.Config) *restclient.Config {
	cfg = restclient.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return ctxRoundTripper{ctx: ctx, rt: rt} })
	return cfg
}

type ctxRoundTripper struct {
	ctx context.Context
	rt  http.RoundTripper
}

func (c ctxRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(c.ctx, cancel)
	release := func() { stop(); cancel() }
	resp, err := c.rt.RoundTrip(req.WithContext(rctx))
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// WrappedRoundTripper lets client-go reach the transport.
func (c ctxRoundTripper) WrappedRoundTripper() http.RoundTripper { return c.rt }

// releasingBody releases its request's context once read.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b releasingBody) Close() error {
	defer b.release()
	return b.ReadCloser.Close()
}

// exportMetric serves a controller metric at /metrics. The registry is the
// process's: a second server in the same process (tests) keeps its own
// metrics private instead of failing.
func exportMetric(m metrics.Registerable) error {
	if err := legacyregistry.Register(m); err != nil {
		klog.Background().Info("metric not exported", "err", err)
	}
	return nil
}
