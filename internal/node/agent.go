package node

import (
	"context"
	"os"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/controller"
	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node/runtime"
)

// orphanInterval is how often the runtime's pods are checked against the
// API's, for state whose pod object is gone (the kubelet's housekeeping).
const orphanInterval = 30 * time.Second

const uidIndex = "uid"

// Config configures an Agent.
type Config struct {
	Client  kubernetes.Interface
	Machine Machine
	// APIHost and APIPort reach the API server from pods.
	APIHost, APIPort string
	Runtime          runtime.Runtime
	Recorder         record.EventRecorder
	// PVCDir backs persistentVolumeClaim volumes (one directory per claim).
	PVCDir string
	// Clock is the agent's time: its decisions, back-offs, grace periods,
	// the times it writes and the requeues Decide asks for (default: the
	// real one). Retries after errors are the queue's, in real time.
	Clock clock.Clock
	// Wall paces the node's housekeeping (status and lease heartbeat, disk
	// and image checks, orphan collection), which must go on while a
	// virtual Clock stands still (default: Clock).
	Wall clock.Clock
	// Images is the node's image store (nil: pods cannot use the OCI runtime).
	Images *image.Store
	// OCIRuntime is the runc or crun of handler "oci" (zero when none is
	// installed); NamedOCIRuntimes are more handlers, "runc" and "crun"
	// where installed.
	OCIRuntime       runtime.OCIRuntime
	NamedOCIRuntimes map[string]runtime.OCIRuntime
	// DefaultRuntime is the handler of pods without runtimeClassName:
	// RuntimeHost or RuntimeOCI.
	DefaultRuntime string
	// ImageGC is when unused images are removed (zero: image.DefaultGCPolicy).
	ImageGC image.GCPolicy
	// Workers is how many pods are synced at once (default 8).
	Workers int
	// KeepLogs, when set, is handed a pod's container runs just before
	// their state and logs are removed: the run history keeps the logs.
	KeepLogs func(pod string, runs map[string][]runtime.Run)
}

// Agent runs the pods bound to its node: a worker per pod (worker.go),
// and the node-wide parts it is made of, each in its own file.
type Agent struct {
	cfg     Config
	clock   clock.Clock
	done    <-chan struct{} // Run's context
	pods    cache.Indexer   // this node's pods, indexed by UID
	synced  cache.InformerSynced
	factory informers.SharedInformerFactory
	// classes watches RuntimeClasses (cluster-wide, so not through factory,
	// whose lists are narrowed to this node's pods).
	classes informers.SharedInformerFactory
	queue   workqueue.TypedRateLimitingInterface[types.UID]

	events    *events
	heartbeat *heartbeat
	images    *images // nil without an image store
	storage   *storage
	stopper   *stopper
	specs     *specBuilder
	tokens    *tokens

	mu    sync.Mutex
	state map[types.UID]*podState
}

// New returns an agent for cfg.Machine; Run starts it.
func New(cfg Config) *Agent {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Wall == nil {
		cfg.Wall = cfg.Clock
	}
	if cfg.Workers == 0 {
		cfg.Workers = 8
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 10*time.Minute,
		informers.WithTransform(controller.DropManagedFields),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.Machine.Name).String()
		}))
	inf := factory.Core().V1().Pods()
	_ = inf.Informer().AddIndexers(cache.Indexers{uidIndex: func(obj any) ([]string, error) {
		return []string{string(obj.(*corev1.Pod).UID)}, nil
	}})
	a := &Agent{
		cfg: cfg, clock: cfg.Clock, pods: inf.Informer().GetIndexer(), synced: inf.Informer().HasSynced, factory: factory,
		classes: informers.NewSharedInformerFactoryWithOptions(cfg.Client, 10*time.Minute, informers.WithTransform(controller.DropManagedFields)),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "node-agent"}),
		events: newEvents(cfg.Recorder, cfg.Machine.Name),
		state:  map[types.UID]*podState{},
	}
	a.storage = &storage{rt: cfg.Runtime, clock: cfg.Clock, wall: cfg.Wall, events: a.events, node: cfg.Machine.Name,
		pods: a.list, sync: a.queue.Add, evicted: map[types.UID]string{}}
	a.heartbeat = &heartbeat{client: cfg.Client, clock: cfg.Clock, wall: cfg.Wall, events: a.events, machine: a.machine}
	a.storage.pressureChanged = a.heartbeat.update
	if cfg.Images != nil {
		a.images = newImages(cfg.Images, cfg.Clock, cfg.Wall, a.events, cfg.ImageGC, func() map[string]bool { return imagesInUse(a.list()) })
	}
	node := NodeInfo{Name: cfg.Machine.Name, IP: cfg.Machine.IP, Allocatable: cfg.Machine.Allocatable(), APIHost: cfg.APIHost, APIPort: cfg.APIPort}
	a.tokens = newTokens(cfg.Client, cfg.Wall)
	a.specs = &specBuilder{rt: cfg.Runtime, lookup: a.lookup(), node: node, pvcDir: cfg.PVCDir, clock: cfg.Clock, images: a.images,
		handlers:  handlers{Default: cfg.DefaultRuntime, OCI: cfg.OCIRuntime, Named: cfg.NamedOCIRuntimes, Images: cfg.Images != nil},
		serverUID: int64(os.Getuid()), events: a.events}
	a.stopper = newStopper(cfg.Runtime, cfg.Clock, a.events, a.specs.build)
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    a.enqueueWithPeers,
		UpdateFunc: func(_, obj any) { a.enqueue(obj) },
		// The pod object is gone: its worker stops and removes what is left.
		DeleteFunc: a.enqueueWithPeers,
	})
	cfg.Runtime.Notify(func(id runtime.ID) { a.queue.Add(types.UID(id.Pod)) })
	return a
}

// lookup reads what containers refer to: through the API, RuntimeClasses
// through their informer.
func (a *Agent) lookup() Lookup {
	client := a.cfg.Client
	classes := a.classes.Node().V1().RuntimeClasses().Lister()
	return Lookup{
		ConfigMap: func(ns, name string) (*corev1.ConfigMap, error) {
			return client.CoreV1().ConfigMaps(ns).Get(context.TODO(), name, metav1.GetOptions{})
		},
		Secret: func(ns, name string) (*corev1.Secret, error) {
			return client.CoreV1().Secrets(ns).Get(context.TODO(), name, metav1.GetOptions{})
		},
		RuntimeClass: func(name string) (*nodev1.RuntimeClass, error) {
			rc, err := classes.Get(name)
			if apierrors.IsNotFound(err) {
				// The cache may lag a class just created, as admission's may.
				return client.NodeV1().RuntimeClasses().Get(context.TODO(), name, metav1.GetOptions{})
			}
			return rc, err
		},
		Claim: func(ns, name string) (*corev1.PersistentVolumeClaim, error) {
			return client.CoreV1().PersistentVolumeClaims(ns).Get(context.TODO(), name, metav1.GetOptions{})
		},
		BindClaim: claimBinder{client: client}.bind,
		Peers:     a.peers,
		Token: func(pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) ([]byte, error) {
			return a.tokens.get(context.TODO(), pod, src)
		},
	}
}

func (a *Agent) enqueue(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		a.queue.Add(pod.UID)
	}
}

// enqueueWithPeers queues a pod that came or went, and the pods sharing its
// subdomain, whose /etc/hosts name it or stop naming it. (Only then: a
// status update of one pod of a large Indexed Job does not requeue all.)
func (a *Agent) enqueueWithPeers(obj any) {
	a.enqueue(obj)
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.Subdomain == "" {
		return
	}
	for _, p := range a.list() {
		if p.UID != pod.UID && p.Namespace == pod.Namespace && p.Spec.Subdomain == pod.Spec.Subdomain {
			a.queue.Add(p.UID)
		}
	}
}

// peers are the hostnames of the pods sharing pod's subdomain that a
// headless Service of that name selects, as cluster DNS would answer for
// <hostname>.<subdomain>: none without such a Service.
func (a *Agent) peers(pod *corev1.Pod) []string {
	svc, err := a.cfg.Client.CoreV1().Services(pod.Namespace).Get(context.TODO(), pod.Spec.Subdomain, metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != corev1.ClusterIPNone || len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var out []string
	for _, p := range a.list() {
		if p.Namespace == pod.Namespace && p.Spec.Subdomain == pod.Spec.Subdomain && p.DeletionTimestamp == nil && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, podHostname(p))
		}
	}
	sort.Strings(out)
	return out
}

// list is the pods bound to this node, as the informer has them.
func (a *Agent) list() []*corev1.Pod {
	var out []*corev1.Pod
	for _, obj := range a.pods.List() {
		out = append(out, obj.(*corev1.Pod))
	}
	return out
}

// machine is the Machine as it is now: with the disk pressure last seen.
func (a *Agent) machine() Machine {
	m := a.cfg.Machine
	m.DiskPressure = a.storage.diskPressure()
	return m
}

// Run registers the node, then runs pods until ctx ends. Containers keep
// running after it returns.
func (a *Agent) Run(ctx context.Context) {
	a.done = ctx.Done()
	go a.heartbeat.run(ctx)
	a.factory.Start(ctx.Done())
	a.classes.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), a.synced) {
		return
	}
	go a.collectOrphans(ctx)
	if a.images != nil {
		go a.images.run(ctx)
	}
	go a.storage.run(ctx)
	a.runWorkers(ctx, a.cfg.Workers)
}

// collectOrphans has the worker of every pod the runtime has state of look
// at it, at start and then periodically: a pod whose object is gone (deleted
// while the agent was not running, or whose deletion it missed) is stopped
// and its state removed, as the kubelet's orphaned-pod cleanup does.
func (a *Agent) collectOrphans(ctx context.Context) {
	for {
		uids, _ := a.cfg.Runtime.Pods()
		for _, uid := range uids {
			a.queue.Add(types.UID(uid))
		}
		select {
		case <-ctx.Done():
			return
		case <-a.cfg.Wall.After(orphanInterval):
		}
	}
}
