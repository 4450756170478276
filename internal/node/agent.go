package node

import (
	"context"
	"errors"
	"fmt"
	"github.com/batchd/batchd/internal/image"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/controller"
	"github.com/batchd/batchd/internal/node/runtime"
)

// Component is the event source of the agent, as the kubelet's.
const Component = "kubelet"

// Kubelet event reasons.
const (
	ReasonCreated           = "Created"
	ReasonStarted           = "Started"
	ReasonKilling           = "Killing"
	ReasonFailed            = "Failed"
	ReasonFailedMount       = "FailedMount"
	ReasonFailedSandbox     = "FailedCreatePodSandBox"
	ReasonFailedPreStopHook = "FailedPreStopHook"
)

const uidIndex = "uid"

// minimumGrace is the kubelet's floor for the SIGTERM→SIGKILL wait after a preStop hook.
const minimumGrace = 2 * time.Second

// Config configures an Agent.
type Config struct {
	Client  kubernetes.Interface
	Machine Machine
	// APIHost and APIPort reach the API server from pods.
	APIHost, APIPort string
	Runtime          *runtime.Runtime
	Recorder         record.EventRecorder
	// PVCDir backs persistentVolumeClaim volumes (one directory per claim).
	PVCDir string
	Clock  clock.Clock
	// Images is the node's image store (nil: pods cannot use the OCI runtime).
	Images *image.Store
	// OCIRuntime is the runc or crun binary of handler "oci" ("" when none
	// is installed); NamedOCIRuntimes are more handlers, "runc" and "crun"
	// where installed, each with its binary.
	OCIRuntime       string
	NamedOCIRuntimes map[string]string
	// DefaultRuntime is the handler of pods without runtimeClassName:
	// RuntimeHost or RuntimeOCI.
	DefaultRuntime string
	// ImageGC is when unused images are removed (zero: image.DefaultGCPolicy).
	ImageGC image.GCPolicy
	// KeepLogs, when set, is handed a pod's container runs just before
	// their state and logs are removed: the run history keeps the logs.
	KeepLogs func(pod string, runs map[string][]runtime.Run)
}

// Agent runs the pods bound to its node.
type Agent struct {
	cfg     Config
	node    NodeInfo
	pods    corelisters.PodLister
	byUID   cache.Indexer
	synced  cache.InformerSynced
	factory informers.SharedInformerFactory
	// classes watches RuntimeClasses (cluster-wide, so not through factory,
	// whose lists are narrowed to this node's pods).
	classes informers.SharedInformerFactory
	runner  *controller.Runner
	lookup  Lookup

	mu          sync.Mutex
	keys        map[string]string             // pod UID → namespace/name
	startErrors map[string]map[string]Waiting // pod UID → container → last start error
	stopping    map[runtime.ID]bool
	recorded    map[string]map[string]bool // pod UID → event keys already recorded
	pulls       map[string]image.PullState // image → its failed pulls
	// imageSeen and imageLastUsed are when each stored image was first
	// listed and last started from; pulled wakes image collection.
	imageSeen, imageLastUsed map[string]time.Time
	pulled                   chan struct{}
	// evictions are the pods the node evicts, by UID, with the reason;
	// diskPressure is whether the pods' file system is short of space.
	evictions    map[string]string
	diskPressure bool
}

// New returns an agent for cfg.Machine; Run starts it. The runtime's OnExit must
// call Exited.
func New(cfg Config) *Agent {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ImageGC == (image.GCPolicy{}) {
		cfg.ImageGC = image.DefaultGCPolicy
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.Machine.Name).String()
		}))
	inf := factory.Core().V1().Pods()
	_ = inf.Informer().AddIndexers(cache.Indexers{uidIndex: func(obj any) ([]string, error) {
		return []string{string(obj.(*corev1.Pod).UID)}, nil
	}})
	a := &Agent{
		cfg: cfg, pods: inf.Lister(), byUID: inf.Informer().GetIndexer(),
		node: NodeInfo{Name: cfg.Machine.Name, IP: cfg.Machine.IP, Allocatable: cfg.Machine.Allocatable(), APIHost: cfg.APIHost, APIPort: cfg.APIPort}, synced: inf.Informer().HasSynced, factory: factory,
		keys: map[string]string{}, startErrors: map[string]map[string]Waiting{},
		stopping: map[runtime.ID]bool{}, recorded: map[string]map[string]bool{}, pulls: map[string]image.PullState{},
		imageSeen: map[string]time.Time{}, imageLastUsed: map[string]time.Time{}, pulled: make(chan struct{}, 1),
		evictions: map[string]string{},
	}
	a.classes = informers.NewSharedInformerFactory(cfg.Client, 10*time.Minute)
	classLister := a.classes.Node().V1().RuntimeClasses().Lister()
	a.lookup = Lookup{
		ConfigMap: func(ns, name string) (*corev1.ConfigMap, error) {
			return cfg.Client.CoreV1().ConfigMaps(ns).Get(context.TODO(), name, metav1.GetOptions{})
		},
		Secret: func(ns, name string) (*corev1.Secret, error) {
			return cfg.Client.CoreV1().Secrets(ns).Get(context.TODO(), name, metav1.GetOptions{})
		},
		RuntimeClass: func(name string) (*nodev1.RuntimeClass, error) {
			rc, err := classLister.Get(name)
			if apierrors.IsNotFound(err) {
				// The cache may lag a class just created, as admission's may.
				return cfg.Client.NodeV1().RuntimeClasses().Get(context.TODO(), name, metav1.GetOptions{})
			}
			return rc, err
		},
		Claim: func(ns, name string) (*corev1.PersistentVolumeClaim, error) {
			return cfg.Client.CoreV1().PersistentVolumeClaims(ns).Get(context.TODO(), name, metav1.GetOptions{})
		},
		BindClaim: func(claim *corev1.PersistentVolumeClaim) error {
			claims := cfg.Client.CoreV1().PersistentVolumeClaims(claim.Namespace)
			c := claim.DeepCopy()
			if c.Spec.VolumeName == "" {
				// Named like a dynamically provisioned volume; the directory is the volume.
				c.Spec.VolumeName = "pvc-" + string(c.UID)
				metav1.SetMetaDataAnnotation(&c.ObjectMeta, "pv.kubernetes.io/bind-completed", "yes")
				metav1.SetMetaDataAnnotation(&c.ObjectMeta, "pv.kubernetes.io/bound-by-controller", "yes")
				var err error
				if c, err = claims.Update(context.TODO(), c, metav1.UpdateOptions{}); err != nil {
					return err
				}
			}
			c.Status = boundClaimStatus(c)
			_, err := claims.UpdateStatus(context.TODO(), c, metav1.UpdateOptions{})
			return err
		},
	}
	a.runner = controller.NewRunner("node-agent", a.sync)
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    a.enqueue,
		UpdateFunc: func(_, obj any) { a.enqueue(obj) },
		DeleteFunc: a.deleted,
	})
	return a
}

func (a *Agent) enqueue(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key := pod.Namespace + "/" + pod.Name
	a.mu.Lock()
	a.keys[string(pod.UID)] = key
	a.mu.Unlock()
	a.runner.Add(key)
}

// deleted: the pod object is gone; whatever of it still runs is stopped and removed.
func (a *Agent) deleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		a.runner.Add("uid:" + string(pod.UID))
	}
}

// Exited is the runtime's OnExit: the pod of the run is synced again.
func (a *Agent) Exited(id runtime.ID) {
	a.mu.Lock()
	key, ok := a.keys[id.Pod]
	delete(a.stopping, id)
	a.mu.Unlock()
	if ok {
		a.runner.Add(key)
	} else {
		a.runner.Add("uid:" + id.Pod)
	}
}

// Run registers the node, then runs pods until ctx ends. Containers keep
// running after it returns.
func (a *Agent) Run(ctx context.Context) {
	go a.heartbeat(ctx)
	a.factory.Start(ctx.Done())
	a.classes.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), a.synced) {
		return
	}
	go a.collectOrphans(ctx)
	go a.collectImagesEvery(ctx)
	go a.monitorStorage(ctx)
	a.runner.Run(ctx, 8)
}

// collectOrphans finds runtime state of pods the API no longer has, at start
// and then periodically.
func (a *Agent) collectOrphans(ctx context.Context) {
	for {
		uids, _ := a.cfg.Runtime.Pods()
		for _, uid := range uids {
			a.runner.Add("uid:" + uid)
		}
		select {
		case <-ctx.Done():
			return
		case <-a.cfg.Clock.After(30 * time.Second):
		}
	}
}

func (a *Agent) sync(ctx context.Context, key string) (time.Duration, error) {
	if uid, ok := strings.CutPrefix(key, "uid:"); ok {
		return 0, a.syncOrphan(ctx, uid)
	}
	ns, name, _ := strings.Cut(key, "/")
	pod, err := a.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	uid := string(pod.UID)
	var plan Plan
	for round := 0; ; round++ {
		runs, err := a.cfg.Runtime.Runs(uid)
		if err != nil {
			return 0, err
		}
		plan = Decide(Observed{Pod: pod, Runs: runs, StartErrors: a.errorsOf(uid), HostIP: a.node.IP, Evicted: a.evictionOf(uid), Now: a.cfg.Clock.Now()})
		a.record(pod, plan.Events)
		for _, k := range plan.Kill {
			a.stop(pod, k)
		}
		if len(plan.Start) == 0 || round == 2 {
			break
		}
		for _, c := range plan.Start {
			a.start(ctx, pod, c, len(runs[c]))
		}
	}
	if !apiequality.Semantic.DeepEqual(plan.Status, pod.Status) {
		fresh := pod.DeepCopy()
		fresh.Status = plan.Status
		if _, err := a.cfg.Client.CoreV1().Pods(ns).UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return 0, nil
			}
			return 0, fmt.Errorf("update status of pod %s: %w", key, err)
		}
	}
	if plan.Remove {
		return 0, a.remove(ctx, pod)
	}
	if terminal(plan.Status.Phase) && len(plan.Kill) == 0 && !anyRunning(runsOf(a.cfg.Runtime, uid)) {
		// As the kubelet tears down a terminated pod's volumes: its emptyDirs
		// go now (an evicted pod's disk is freed), its logs when it is deleted.
		if err := a.cfg.Runtime.RemoveVolumes(uid, emptyDirs(pod)); err != nil {
			return 0, err
		}
	}
	return plan.Requeue, nil
}

func terminal(p corev1.PodPhase) bool { return p == corev1.PodSucceeded || p == corev1.PodFailed }

func runsOf(rt *runtime.Runtime, uid string) map[string][]runtime.Run {
	runs, _ := rt.Runs(uid)
	return runs
}

func anyRunning(runs map[string][]runtime.Run) bool {
	for _, rs := range runs {
		for _, r := range rs {
			if r.Running {
				return true
			}
		}
	}
	return false
}

// emptyDirs names the pod's emptyDir volumes.
func emptyDirs(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil {
			out = append(out, v.Name)
		}
	}
	return out
}

// remove deletes a terminated pod's object and then its state.
func (a *Agent) remove(ctx context.Context, pod *corev1.Pod) error {
	uid := pod.UID
	err := a.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return a.forget(string(uid))
}

func (a *Agent) forget(uid string) error {
	if a.cfg.KeepLogs != nil {
		if runs, err := a.cfg.Runtime.Runs(uid); err == nil && len(runs) > 0 {
			a.cfg.KeepLogs(uid, runs)
		}
	}
	if err := a.cfg.Runtime.RemovePod(uid); err != nil {
		return fmt.Errorf("remove state of pod %s: %w", uid, err)
	}
	a.mu.Lock()
	delete(a.keys, uid)
	delete(a.startErrors, uid)
	delete(a.recorded, uid)
	delete(a.evictions, uid)
	a.mu.Unlock()
	return nil
}

// syncOrphan stops and removes the state of a pod that is gone from the API.
func (a *Agent) syncOrphan(ctx context.Context, uid string) error {
	if objs, err := a.byUID.ByIndex(uidIndex, uid); err != nil || len(objs) > 0 {
		return err
	}
	runs, err := a.cfg.Runtime.Runs(uid)
	if err != nil {
		return err
	}
	for _, rs := range runs {
		if last := latest(rs); last != nil && last.Running {
			if err := a.cfg.Runtime.Stop(last.ID, minimumGrace); err != nil {
				return err
			}
		}
	}
	return a.forget(uid)
}

func (a *Agent) errorsOf(uid string) map[string]Waiting {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]Waiting{}
	for k, v := range a.startErrors[uid] {
		out[k] = v
	}
	return out
}

func (a *Agent) setStartError(uid, container string, w *Waiting) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w == nil {
		delete(a.startErrors[uid], container)
		return
	}
	if a.startErrors[uid] == nil {
		a.startErrors[uid] = map[string]Waiting{}
	}
	a.startErrors[uid][container] = *w
}

// start starts attempt of container name; failures become the container's
// waiting reason and an event.
func (a *Agent) start(ctx context.Context, pod *corev1.Pod, name string, attempt int) {
	uid := string(pod.UID)
	now := a.cfg.Clock.Now()
	spec, err := a.containerSpec(ctx, pod, containerByName(&pod.Spec, name), runtime.ID{Pod: uid, Container: name, Attempt: attempt})
	if err == nil {
		err = a.cfg.Runtime.Start(spec)
	}
	var cfgErr *ConfigError
	var mountErr *MountError
	var sandboxErr *SandboxError
	if w, ok := pullWaiting(err, now); ok {
		// The image step recorded its own events.
		a.setStartError(uid, name, w)
		return
	}
	switch {
	case err == nil:
		a.setStartError(uid, name, nil)
		a.event(pod, name, corev1.EventTypeNormal, ReasonCreated, "Created container: "+name)
		a.event(pod, name, corev1.EventTypeNormal, ReasonStarted, "Started container "+name)
	case errors.As(err, &mountErr):
		// The pod stays ContainerCreating, as with an unmountable volume on a node.
		a.setStartError(uid, name, &Waiting{Reason: reasonCreating, At: now})
		a.event(pod, "", corev1.EventTypeWarning, ReasonFailedMount, err.Error())
	case errors.As(err, &sandboxErr):
		// No runtime for the pod's class: it stays ContainerCreating, as on a
		// node whose CRI has no such handler.
		a.setStartError(uid, name, &Waiting{Reason: reasonCreating, At: now})
		a.event(pod, "", corev1.EventTypeWarning, ReasonFailedSandbox, "Failed to create pod sandbox: "+err.Error())
	default:
		reason, msg := "CreateContainerError", err.Error()
		if errors.As(err, &cfgErr) {
			reason, msg = "CreateContainerConfigError", cfgErr.Message
		}
		a.setStartError(uid, name, &Waiting{Reason: reason, Message: msg, At: now})
		a.event(pod, name, corev1.EventTypeWarning, ReasonFailed, "Error: "+msg)
	}
}

// containerSpec is how run id of container c is started: its command,
// environment, mounts (volumes, /etc/hosts, a private /tmp) and limits.
// Errors are *ConfigError (the container's configuration), *MountError or
// *SandboxError (no runtime for the pod's class).
func (a *Agent) containerSpec(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id runtime.ID) (_ runtime.Spec, err error) {
	_, ociBin, err := a.handler(pod)
	if err != nil {
		return runtime.Spec{}, err
	}
	env, secrets, err := containerEnv(pod, c, a.node, a.lookup)
	if err != nil {
		return runtime.Spec{}, err
	}
	// What is reported of a failure names no Secret value.
	defer func() { err = redactError(err, secrets) }()
	podDir := a.cfg.Runtime.PodDir(id.Pod)
	paths, err := setUpVolumes(pod, volumeHost{podDir: podDir, pvcDir: a.cfg.PVCDir, node: a.node, lookup: a.lookup, now: a.cfg.Clock.Now()})
	if err != nil {
		return runtime.Spec{}, err
	}
	ms, err := mounts(pod, c, paths, env, podDir)
	if err != nil {
		return runtime.Spec{}, err
	}
	ms, err = a.withHosts(pod, podDir, ms)
	if err != nil {
		return runtime.Spec{}, err
	}
	if ociBin != "" {
		return a.ociSpec(ctx, pod, c, id, env, ms, ociBin)
	}
	argv, err := Command(c, env)
	if err != nil {
		return runtime.Spec{}, err
	}
	var argv0Name string
	if r := Redact(argv[0], secrets); r != argv[0] {
		argv0Name = r
	}
	user, err := ContainerUser(pod, c, int64(os.Getuid()))
	if err != nil {
		return runtime.Spec{}, err
	}
	workDir := c.WorkingDir
	if workDir == "" {
		workDir = "/"
	}
	return runtime.Spec{
		ID: id, Argv: argv, Argv0Name: argv0Name, Env: env, WorkDir: workDir, Hostname: podHostname(pod), Mounts: ms, User: user,
		PrivateTmp: !mountsUnder(ms, "/tmp"),
		Resources:  runtime.Resources{MemoryBytes: c.Resources.Limits.Memory().Value(), CPUMillis: c.Resources.Limits.Cpu().MilliValue()},
	}, nil
}

// withHosts adds the pod's /etc/hosts (the kubelet-managed file) to ms
// unless a volume is mounted there.
func (a *Agent) withHosts(pod *corev1.Pod, podDir string, ms []runtime.Mount) ([]runtime.Mount, error) {
	if mountsUnder(ms, "/etc/hosts") {
		return ms, nil
	}
	hosts := filepath.Join(podDir, "etc-hosts")
	err := os.MkdirAll(podDir, 0o700)
	if err == nil {
		err = os.WriteFile(hosts, []byte(hostsFile(pod, a.node.IP)), 0o644)
	}
	if err != nil {
		return nil, err
	}
	return append(ms, runtime.Mount{Source: hosts, Target: "/etc/hosts"}), nil
}

// stop stops a run in the background: preStop hook, SIGTERM, grace, SIGKILL.
func (a *Agent) stop(pod *corev1.Pod, k Kill) {
	id := runtime.ID{Pod: string(pod.UID), Container: k.Container, Attempt: k.Attempt}
	a.mu.Lock()
	if a.stopping[id] {
		a.mu.Unlock()
		return
	}
	a.stopping[id] = true
	a.mu.Unlock()
	a.event(pod, k.Container, corev1.EventTypeNormal, ReasonKilling, "Stopping container "+k.Container)
	c := containerByName(&pod.Spec, k.Container)
	pod = pod.DeepCopy()
	go func() {
		grace := k.Grace
		if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
			began := time.Now()
			a.preStop(pod, c, id, grace)
			grace = max(grace-time.Since(began), minimumGrace)
		}
		_ = a.cfg.Runtime.Stop(id, grace)
	}()
}

// preStop runs the container's exec hook in its environment, volumes and
// /tmp, for at most grace.
func (a *Agent) preStop(pod *corev1.Pod, c *corev1.Container, id runtime.ID, grace time.Duration) {
	if len(c.Lifecycle.PreStop.Exec.Command) == 0 {
		return
	}
	if _, bin, _ := a.handler(pod); bin != "" {
		// Inside the container, as a CRI runtime runs an exec hook.
		if err := a.cfg.Runtime.ExecOCI(id, bin, c.Lifecycle.PreStop.Exec.Command, grace); err != nil {
			klog.Background().Error(err, "PreStop hook failed", "pod", klog.KObj(pod), "container", c.Name)
			a.event(pod, c.Name, corev1.EventTypeWarning, ReasonFailedPreStopHook, "PreStopHook failed")
		}
		return
	}
	spec, err := a.containerSpec(context.Background(), pod, c, id)
	if err != nil {
		return
	}
	if spec.PrivateTmp {
		spec.PrivateTmp = false
		spec.Mounts = append(spec.Mounts, runtime.Mount{Source: a.cfg.Runtime.TmpDir(id), Target: "/tmp"})
	}
	spec.ID = runtime.ID{Pod: id.Pod, Container: ".prestop-" + c.Name, Attempt: id.Attempt}
	spec.Argv, spec.Argv0Name, spec.NoLog, spec.Resources = c.Lifecycle.PreStop.Exec.Command, "", true, runtime.Resources{}
	if err := a.cfg.Runtime.Start(spec); err != nil {
		a.event(pod, c.Name, corev1.EventTypeWarning, ReasonFailedPreStopHook, "PreStopHook failed")
		return
	}
	if err := a.cfg.Runtime.Wait(spec.ID, grace); err != nil {
		a.event(pod, c.Name, corev1.EventTypeWarning, ReasonFailedPreStopHook, "PreStopHook failed")
		_ = a.cfg.Runtime.Stop(spec.ID, 0)
	}
}

func (a *Agent) record(pod *corev1.Pod, events []Event) {
	uid := string(pod.UID)
	for _, e := range events {
		a.mu.Lock()
		if a.recorded[uid] == nil {
			a.recorded[uid] = map[string]bool{}
		}
		seen := a.recorded[uid][e.Key]
		a.recorded[uid][e.Key] = true
		a.mu.Unlock()
		if !seen {
			a.event(pod, e.Container, e.Type, e.Reason, e.Message)
		}
	}
}

func (a *Agent) event(pod *corev1.Pod, container, eventType, reason, msg string) {
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
		UID: pod.UID, ResourceVersion: pod.ResourceVersion}
	if container != "" {
		ref.FieldPath = fmt.Sprintf("spec.containers{%s}", container)
		if i := containerIndex(&pod.Spec, container); i >= 0 && i < len(pod.Spec.InitContainers) {
			ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", container)
		}
	}
	a.cfg.Recorder.Event(ref, eventType, reason, msg)
}

func containerByName(spec *corev1.PodSpec, name string) *corev1.Container {
	for _, c := range allContainers(spec) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// boundClaimStatus is a claim's status once the local provisioner gave it a
// directory: Bound, with the requested size and access modes.
func boundClaimStatus(c *corev1.PersistentVolumeClaim) corev1.PersistentVolumeClaimStatus {
	s := corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: c.Spec.AccessModes}
	if q, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		s.Capacity = corev1.ResourceList{corev1.ResourceStorage: q}
	}
	return s
}

// mountsUnder tells whether a mount targets dir or a path below it.
func mountsUnder(ms []runtime.Mount, dir string) bool {
	for _, m := range ms {
		t := filepath.Clean(m.Target)
		if t == dir || strings.HasPrefix(t, dir+"/") {
			return true
		}
	}
	return false
}
