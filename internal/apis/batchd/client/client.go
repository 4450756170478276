// Package client reads and writes batchd.dev/v1alpha1 JobRuns over REST, in
// JSON (the types have no protobuf encoding); a hand-written stand-in for a
// generated clientset, kept apart from the types so that the generators
// do not see it.
package client

import (
	"context"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	restclient "k8s.io/client-go/rest"

	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
)

// Client reads and writes JobRuns. It speaks JSON whatever the config asks
// (the types have no protobuf encoding).
type Client struct{ rest restclient.Interface }

// NewForConfig returns a Client for cfg.
func NewForConfig(cfg *restclient.Config) (*Client, error) {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	metav1.AddToGroupVersion(s, metav1.SchemeGroupVersion)
	c := restclient.CopyConfig(cfg)
	c.GroupVersion = &v1alpha1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.ContentType = runtime.ContentTypeJSON
	c.AcceptContentTypes = runtime.ContentTypeJSON
	c.NegotiatedSerializer = serializer.NewCodecFactory(s).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = restclient.DefaultKubernetesUserAgent()
	}
	r, err := restclient.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("jobruns client: %w", err)
	}
	return &Client{rest: r}, nil
}

// NewWithREST wraps an existing REST client (tests).
func NewWithREST(r restclient.Interface) *Client { return &Client{rest: r} }

// JobRuns returns the JobRuns of a namespace ("" for all, reads only).
func (c *Client) JobRuns(namespace string) JobRunInterface {
	return JobRunInterface{rest: c.rest, ns: namespace}
}

// JobRunInterface is a namespace's JobRuns.
type JobRunInterface struct {
	rest restclient.Interface
	ns   string
}

func (i JobRunInterface) Get(ctx context.Context, name string, opts metav1.GetOptions) (*v1alpha1.JobRun, error) {
	out := &v1alpha1.JobRun{}
	err := i.rest.Get().Namespace(i.ns).Resource("jobruns").Name(name).VersionedParams(&opts, metav1.ParameterCodec).Do(ctx).Into(out)
	return out, err
}

func (i JobRunInterface) List(ctx context.Context, opts metav1.ListOptions) (*v1alpha1.JobRunList, error) {
	out := &v1alpha1.JobRunList{}
	err := i.rest.Get().Namespace(i.ns).Resource("jobruns").VersionedParams(&opts, metav1.ParameterCodec).Do(ctx).Into(out)
	return out, err
}

func (i JobRunInterface) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return i.rest.Get().Namespace(i.ns).Resource("jobruns").VersionedParams(&opts, metav1.ParameterCodec).Watch(ctx)
}

func (i JobRunInterface) Create(ctx context.Context, r *v1alpha1.JobRun, opts metav1.CreateOptions) (*v1alpha1.JobRun, error) {
	out := &v1alpha1.JobRun{}
	err := i.rest.Post().Namespace(i.ns).Resource("jobruns").VersionedParams(&opts, metav1.ParameterCodec).Body(r).Do(ctx).Into(out)
	return out, err
}

func (i JobRunInterface) Update(ctx context.Context, r *v1alpha1.JobRun, opts metav1.UpdateOptions) (*v1alpha1.JobRun, error) {
	out := &v1alpha1.JobRun{}
	err := i.rest.Put().Namespace(i.ns).Resource("jobruns").Name(r.Name).VersionedParams(&opts, metav1.ParameterCodec).Body(r).Do(ctx).Into(out)
	return out, err
}

func (i JobRunInterface) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return i.rest.Delete().Namespace(i.ns).Resource("jobruns").Name(name).Body(&opts).Do(ctx).Error()
}

// Log reads the log of one attempt of a run (jobruns/log).
func (i JobRunInterface) Log(ctx context.Context, name string, opts v1alpha1.JobRunLogOptions) ([]byte, error) {
	req := i.rest.Get().Namespace(i.ns).Resource("jobruns").Name(name).SubResource("log")
	if opts.Pod != "" {
		req = req.Param("pod", opts.Pod)
	}
	if opts.Container != "" {
		req = req.Param("container", opts.Container)
	}
	if opts.Attempt != nil {
		req = req.Param("attempt", strconv.Itoa(int(*opts.Attempt)))
	}
	if opts.TailLines != nil {
		req = req.Param("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.Timestamps {
		req = req.Param("timestamps", "true")
	}
	return req.DoRaw(ctx)
}

// Patch is here for completeness of the writer's verbs.
func (i JobRunInterface) Patch(ctx context.Context, name string, pt types.PatchType, data []byte) (*v1alpha1.JobRun, error) {
	out := &v1alpha1.JobRun{}
	err := i.rest.Patch(pt).Namespace(i.ns).Resource("jobruns").Name(name).Body(data).Do(ctx).Into(out)
	return out, err
}
