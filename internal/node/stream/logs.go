package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LogsFunc streams a container's log, as pods/log asks for it.
type LogsFunc func(ctx context.Context, namespace, pod, container string, opts *corev1.PodLogOptions) (io.ReadCloser, error)

// LogQuery is opts as the kubelet's /containerLogs takes them.
func LogQuery(opts *corev1.PodLogOptions) url.Values {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Previous {
		q.Set("previous", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*opts.LimitBytes, 10))
	}
	if opts.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*opts.SinceSeconds, 10))
	}
	if opts.SinceTime != nil {
		q.Set("sinceTime", opts.SinceTime.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// parseLogQuery reads LogQuery's form back.
func parseLogQuery(q url.Values) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{Follow: q.Get("follow") == "true", Previous: q.Get("previous") == "true", Timestamps: q.Get("timestamps") == "true"}
	for _, f := range []struct {
		name string
		into **int64
	}{{"tailLines", &opts.TailLines}, {"limitBytes", &opts.LimitBytes}, {"sinceSeconds", &opts.SinceSeconds}} {
		if v := q.Get(f.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			*f.into = &n
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("sinceTime: %w", err)
		}
		mt := metav1.NewTime(t)
		opts.SinceTime = &mt
	}
	return opts, nil
}

// containerLogs serves /containerLogs/{namespace}/{pod}/{container}: the
// log streamed as it is written (flushed at each write when following),
// an error as a metav1.Status the API server passes on as it is.
func (s *server) containerLogs(w http.ResponseWriter, r *http.Request) {
	opts, err := parseLogQuery(r.URL.Query())
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	if s.cfg.Logs == nil {
		writeStatus(w, apierrors.NewServiceUnavailable("this node serves no logs"))
		return
	}
	ns, pod, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	rc, err := s.cfg.Logs(r.Context(), ns, pod, container, opts)
	if errors.Is(err, ErrPodNotFound) {
		err = apierrors.NewNotFound(corev1.Resource("pods"), pod)
	}
	if err != nil {
		writeStatus(w, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	var out io.Writer = w
	if f, ok := w.(http.Flusher); ok && opts.Follow {
		out = flushWriter{w: w, f: f}
	}
	_, _ = io.Copy(out, rc)
}

type flushWriter struct {
	w io.Writer
	f http.Flusher
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.f.Flush()
	return n, err
}

// writeStatus answers err as a metav1.Status with its code.
func writeStatus(w http.ResponseWriter, err error) {
	var st metav1.Status
	if s, ok := err.(apierrors.APIStatus); ok {
		st = s.Status()
	} else {
		st = apierrors.NewInternalError(err).Status()
	}
	st.Kind, st.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}

// LogError is the error an agent answered /containerLogs with: its Status
// when it sent one, else its status line and text.
func LogError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var st metav1.Status
	if json.Unmarshal(data, &st) == nil && st.Kind == "Status" && st.Code != 0 {
		return &apierrors.StatusError{ErrStatus: st}
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, "get", corev1.Resource("pods"), "", fmt.Sprintf("node agent: %s: %s", resp.Status, data), 0, false)
}
