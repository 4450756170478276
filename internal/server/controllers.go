package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"github.com/batchd/batchd/internal/controller"
	"github.com/batchd/batchd/internal/controller/clusterrole"
	"github.com/batchd/batchd/internal/controller/cronjob"
	"github.com/batchd/batchd/internal/controller/endpoint"
	"github.com/batchd/batchd/internal/controller/gc"
	runhistory "github.com/batchd/batchd/internal/controller/history"
	"github.com/batchd/batchd/internal/controller/job"
	"github.com/batchd/batchd/internal/controller/namespace"
	"github.com/batchd/batchd/internal/controller/rootca"
	"github.com/batchd/batchd/internal/controller/serviceaccount"
	"github.com/batchd/batchd/internal/controller/ttl"
	"github.com/batchd/batchd/internal/history"
	"github.com/batchd/batchd/internal/vclock"
)

// startControllers runs the in-process controllers on the loopback client
// until ctx ends. It returns once they are started.
func startControllers(ctx context.Context, loopback *restclient.Config, clk clock.WithTicker, node *nodeRuntime, runHistory RunHistory, runLogs *history.Store) error {
	loopback = controller.QuietConfig(loopback)
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return err
	}
	meta, err := metadata.NewForConfig(loopback)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute, informers.WithTransform(controller.DropManagedFields))
	sa, err := serviceaccount.New(serviceaccount.Config{Client: client, Informer: factory})
	if err != nil {
		return err
	}
	ns, err := namespace.New(namespace.Config{Client: client, Meta: meta, Informer: factory})
	if err != nil {
		return err
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	var sink record.EventSink = &typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")}
	var schedulerSink events.EventSink = &events.EventSinkImpl{Interface: client.EventsV1()}
	if v, ok := clk.(*vclock.Clock); ok {
		// Events carry the virtual time, as the status they explain does.
		sink, schedulerSink = vclock.RecordSink(sink, v), vclock.EventsSink(schedulerSink, v)
	}
	broadcaster.StartRecordingToSink(sink)
	go func() { <-ctx.Done(); broadcaster.Shutdown() }()
	jobController, err := job.New(job.Config{
		Client: client, Informer: factory, Clock: clk,
		Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: job.Component}),
		Register: exportMetric,
	})
	if err != nil {
		return err
	}
	var historyController *runhistory.Controller
	if runHistory.Enabled {
		runs, err := runclient.NewForConfig(loopback)
		if err != nil {
			return err
		}
		historyController, err = runhistory.New(runhistory.Config{Runs: runhistory.ClientRuns{Client: runs}, Informer: factory, Logs: runLogs, Clock: clk,
			Retention: runhistory.Retention{Age: runHistory.Retention, PerCronJob: runHistory.PerCronJob}})
		if err != nil {
			return err
		}
	}
	cronCfg := cronjob.Config{
		Client: client, Informer: factory, Clock: clk,
		Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: cronjob.Component}),
		Register: exportMetric,
	}
	if historyController != nil {
		cronCfg.Skips = historyController
	}
	// A virtual clock does not read the API's creationTimestamps.
	_, cronCfg.CreatedWhenSeen = clk.(*vclock.Clock)
	cronJobController, err := cronjob.New(cronCfg)
	if err != nil {
		return err
	}
	ttlController, err := ttl.New(ttl.Config{Client: client, Informer: factory, Clock: clk})
	if err != nil {
		return err
	}
	rootCA, err := rootca.New(rootca.Config{Client: client, Informer: factory, CA: loopback.TLSClientConfig.CAData})
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
	// The collector discovers what to watch; a failing post-start hook would
	// take the server down, so a transient discovery error is retried, each
	// time on a fresh informer factory.
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
	runScheduler := node.start(ctx, client, factory, broadcaster, schedulerSink)
	factory.Start(ctx.Done())
	metaFactory.Start(ctx.Done())
	go func() {
		// Controllers act on what their listers show; start them on a full cache.
		factory.WaitForCacheSync(ctx.Done())
		metaFactory.WaitForCacheSync(ctx.Done())
		go sa.Run(ctx)
		go ns.Run(ctx)
		go collector.Run(ctx)
		go ttlController.Run(ctx)
		go rootCA.Run(ctx)
		go aggregation.Run(ctx)
		go endpoints.Run(ctx)
		go jobController.Run(ctx)
		go cronJobController.Run(ctx)
		if historyController != nil {
			go historyController.Run(ctx)
		}
		runScheduler()
	}()
	return nil
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
