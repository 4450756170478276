package jobrun

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
	"github.com/batchd/batchd/internal/history"
)

// LogSource finds the log file of a container run: kept by the history
// store after its pod went, or still the node's while the pod exists.
type LogSource interface {
	LogPath(pod types.UID, container string, attempt int) (string, bool)
}

// Getter reads JobRuns.
type Getter interface {
	Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error)
}

// LogREST serves jobruns/log: the text of one attempt's log.
type LogREST struct {
	Store  Getter
	Source LogSource // nil: no node keeps logs
}

var (
	_ rest.GetterWithOptions = &LogREST{}
	_ rest.StorageMetadata   = &LogREST{}
)

func (r *LogREST) New() runtime.Object { return &v1alpha1.JobRun{} }
func (r *LogREST) Destroy()            {}

func (r *LogREST) ProducesMIMETypes(string) []string { return []string{"text/plain"} }
func (r *LogREST) ProducesObject(string) any         { return "" }

func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &v1alpha1.JobRunLogOptions{}, false, ""
}

// Get returns the chosen attempt's log.
func (r *LogREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*v1alpha1.JobRunLogOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", options))
	}
	if opts.TailLines != nil && *opts.TailLines < 0 {
		return nil, apierrors.NewBadRequest("tailLines: must be greater than or equal to 0")
	}
	obj, err := r.Store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	run := obj.(*v1alpha1.JobRun)
	a, err := Choose(run, opts)
	if err != nil {
		return nil, err
	}
	var path string
	if r.Source != nil {
		path, ok = r.Source.LogPath(a.PodUID, a.Container, int(a.Attempt))
	}
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: v1alpha1.GroupName, Resource: "jobruns/log"},
			fmt.Sprintf("%s (the log of %s was not kept)", name, attemptName(a)))
	}
	ro := history.ReadOptions{Tail: -1, Timestamps: opts.Timestamps}
	if opts.TailLines != nil {
		ro.Tail = *opts.TailLines
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(history.ReadLog(path, ro, pw)) }()
	return &logStream{ReadCloser: pr}, nil
}

// Choose picks the attempt opts name: among those matching its pod,
// container and attempt, the last failed one, else the last one.
func Choose(run *v1alpha1.JobRun, opts *v1alpha1.JobRunLogOptions) (v1alpha1.Attempt, error) {
	var match []v1alpha1.Attempt
	for _, a := range run.Status.Attempts {
		if (opts.Pod == "" || a.PodName == opts.Pod) && (opts.Container == "" || a.Container == opts.Container) &&
			(opts.Attempt == nil || a.Attempt == *opts.Attempt) {
			match = append(match, a)
		}
	}
	if len(match) == 0 {
		what := "no attempt"
		if opts.Attempt != nil {
			what = fmt.Sprintf("no attempt %d", *opts.Attempt)
		}
		if opts.Container != "" {
			what += fmt.Sprintf(" of container %q", opts.Container)
		}
		if opts.Pod != "" {
			what += fmt.Sprintf(" in pod %q", opts.Pod)
		}
		return v1alpha1.Attempt{}, apierrors.NewBadRequest(fmt.Sprintf("%s is recorded in jobrun %q", what, run.Name))
	}
	for i := len(match) - 1; i >= 0; i-- {
		if Failed(match[i]) {
			return match[i], nil
		}
	}
	return match[len(match)-1], nil
}

// Failed tells an attempt that ended badly.
func Failed(a v1alpha1.Attempt) bool {
	return a.ExitCode != nil && *a.ExitCode != 0 || a.FinishTime != nil && a.ExitCode == nil
}

// logStream implements rest.ResourceStreamer.
type logStream struct{ io.ReadCloser }

func (s *logStream) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }
func (s *logStream) DeepCopyObject() runtime.Object   { return s }

func (s *logStream) InputStream(context.Context, string, string) (io.ReadCloser, bool, string, error) {
	return s.ReadCloser, false, "text/plain", nil
}

// RegisterLogOptionsConversion teaches the scheme to read JobRunLogOptions
// from a query string.
func RegisterLogOptionsConversion(s *runtime.Scheme) error {
	return s.AddConversionFunc((*url.Values)(nil), (*v1alpha1.JobRunLogOptions)(nil), func(a, b any, _ conversion.Scope) error {
		return logOptionsFromQuery(*a.(*url.Values), b.(*v1alpha1.JobRunLogOptions))
	})
}

func logOptionsFromQuery(q url.Values, o *v1alpha1.JobRunLogOptions) error {
	o.Pod, o.Container = q.Get("pod"), q.Get("container")
	if v := q.Get("attempt"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return apierrors.NewBadRequest(fmt.Sprintf("attempt: %q is not a non-negative integer", v))
		}
		a := int32(n)
		o.Attempt = &a
	}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("tailLines: %q is not an integer", v))
		}
		o.TailLines = &n
	}
	if v := q.Get("timestamps"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("timestamps: %q is not a boolean", v))
		}
		o.Timestamps = b
	}
	return nil
}
