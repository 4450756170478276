package pod

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// LogSource streams a container's log. The node agent that runs the pod
// provides it.
type LogSource interface {
	Logs(ctx context.Context, pod *corev1.Pod, container string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
}

// LogREST serves pods/log with upstream's checks of the pod's state; the bytes
// come from Source.
type LogREST struct {
	Store  *genericregistry.Store
	Source LogSource // nil until a node agent runs pods
}

var (
	_ rest.GetterWithOptions = &LogREST{}
	_ rest.StorageMetadata   = &LogREST{}
)

func (r *LogREST) New() runtime.Object { return &corev1.Pod{} }
func (r *LogREST) Destroy()            {}

func (r *LogREST) ProducesMIMETypes(string) []string {
	return []string{"text/plain"}
}

func (r *LogREST) ProducesObject(string) any { return "" }

func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &corev1.PodLogOptions{}, false, ""
}

// Get returns a stream of the container's log.
func (r *LogREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*corev1.PodLogOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", options))
	}
	if opts.TailLines != nil && *opts.TailLines < 0 {
		return nil, apierrors.NewBadRequest("tailLines: must be greater than or equal to 0")
	}
	if opts.SinceSeconds != nil && opts.SinceTime != nil {
		return nil, apierrors.NewBadRequest("at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	obj, err := r.Store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	p := obj.(*corev1.Pod)
	container, err := logContainer(p, opts)
	if err != nil {
		return nil, err
	}
	if r.Source == nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no node agent serves logs for pod %q", p.Name))
	}
	stream, err := r.Source.Logs(ctx, p, container, opts)
	if err != nil {
		return nil, err
	}
	return &logStream{ReadCloser: stream, follow: opts.Follow}, nil
}

// logContainer picks the container and checks, as upstream does, that the pod
// is bound and the container has started.
func logContainer(p *corev1.Pod, opts *corev1.PodLogOptions) (string, error) {
	container := opts.Container
	if container == "" {
		switch {
		case len(p.Spec.Containers) == 1:
			container = p.Spec.Containers[0].Name
		default:
			names := make([]string, 0, len(p.Spec.Containers))
			for _, c := range p.Spec.Containers {
				names = append(names, c.Name)
			}
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", p.Name, names))
		}
	}
	var status *corev1.ContainerStatus
	found := false
	for _, list := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers, ephemeral(p)} {
		for _, c := range list {
			if c.Name == container {
				found = true
			}
		}
	}
	if !found {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, p.Name))
	}
	if p.Spec.NodeName == "" {
		return "", apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", p.Name))
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == container {
				status = &list[i]
			}
		}
	}
	if status != nil && status.State.Waiting != nil && status.RestartCount == 0 && !opts.Previous {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, p.Name, status.State.Waiting.Reason))
	}
	if status == nil && !opts.Previous {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, p.Name))
	}
	return container, nil
}

func ephemeral(p *corev1.Pod) []corev1.Container {
	out := make([]corev1.Container, len(p.Spec.EphemeralContainers))
	for i, e := range p.Spec.EphemeralContainers {
		out[i] = corev1.Container{Name: e.Name}
	}
	return out
}

// logStream implements rest.ResourceStreamer.
type logStream struct {
	io.ReadCloser
	follow bool
}

func (s *logStream) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }
func (s *logStream) DeepCopyObject() runtime.Object   { return s }

func (s *logStream) InputStream(context.Context, string, string) (io.ReadCloser, bool, string, error) {
	return s.ReadCloser, s.follow, "text/plain", nil
}

// RegisterLogOptionsConversion teaches the scheme to read PodLogOptions from a
// query string (upstream generates this conversion; k8s.io/api does not ship it).
func RegisterLogOptionsConversion(s *runtime.Scheme) error {
	return s.AddConversionFunc((*url.Values)(nil), (*corev1.PodLogOptions)(nil), func(a, b any, _ conversion.Scope) error {
		return logOptionsFromQuery(*a.(*url.Values), b.(*corev1.PodLogOptions))
	})
}

func logOptionsFromQuery(q url.Values, o *corev1.PodLogOptions) error {
	boolean := func(name string) (bool, error) {
		v := q.Get(name)
		if v == "" {
			return false, nil
		}
		return strconv.ParseBool(v)
	}
	integer := func(name string) (*int64, error) {
		v := q.Get(name)
		if v == "" {
			return nil, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &n, nil
	}
	var err error
	o.Container = q.Get("container")
	if o.Follow, err = boolean("follow"); err != nil {
		return err
	}
	if o.Previous, err = boolean("previous"); err != nil {
		return err
	}
	if o.Timestamps, err = boolean("timestamps"); err != nil {
		return err
	}
	if o.InsecureSkipTLSVerifyBackend, err = boolean("insecureSkipTLSVerifyBackend"); err != nil {
		return err
	}
	if o.SinceSeconds, err = integer("sinceSeconds"); err != nil {
		return err
	}
	if o.TailLines, err = integer("tailLines"); err != nil {
		return err
	}
	if o.LimitBytes, err = integer("limitBytes"); err != nil {
		return err
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return fmt.Errorf("sinceTime: %w", err)
		}
		mt := metav1.NewTime(t)
		o.SinceTime = &mt
	}
	if v := q.Get("stream"); v != "" {
		o.Stream = &v
	}
	return nil
}
