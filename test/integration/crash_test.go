package integration

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/testenv"
)

// storedEdit is one object rewritten in etcd: its key, an empty object of
// its type, its stored version, and the change.
type storedEdit struct {
	key    string
	into   runtime.Object
	gv     runtime.GroupVersioner
	mutate func(runtime.Object)
}

// rewriteStored changes objects in etcd in one transaction, bypassing the API
// server (its validation included), to build stored states that a crash or
// an older batchd can leave behind. The transaction fails, and is retried,
// if any key changed since it was read.
func rewriteStored(t *testing.T, edits ...storedEdit) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"unix://" + filepath.Join(env.DataDir, "etcd", "client.sock")},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	poll(t, "stored rewrite", func(ctx context.Context) (bool, error) {
		var cmps []clientv3.Cmp
		var puts []clientv3.Op
		for _, e := range edits {
			got, err := cli.Get(ctx, e.key)
			if err != nil {
				return false, err
			}
			if len(got.Kvs) != 1 {
				t.Fatalf("no stored object at %s", e.key)
			}
			obj := e.into.DeepCopyObject()
			if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(got.Kvs[0].Value, nil, obj); err != nil {
				t.Fatalf("decode %s: %v", e.key, err)
			}
			e.mutate(obj)
			data, err := runtime.Encode(scheme.Codecs.EncoderForVersion(info.Serializer, e.gv), obj)
			if err != nil {
				t.Fatalf("encode %s: %v", e.key, err)
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(e.key), "=", got.Kvs[0].ModRevision))
			puts = append(puts, clientv3.OpPut(e.key, string(data)))
		}
		resp, err := cli.Txn(ctx).If(cmps...).Then(puts...).Commit()
		if err != nil {
			return false, err
		}
		return resp.Succeeded, nil
	})
}

// Issue 15 item 1: the stored state a crash leaves between the Job status
// write and the finalizer removal — a pod recorded in uncountedTerminatedPods
// (deleted while running) that then ended Succeeded, still carrying the
// tracking finalizer — and the state an older batchd could write (the same
// UID under both succeeded and failed, which validation refuses). From either,
// the Job finishes with each pod counted once and the finalizer removed.
func TestJobFinishesFromCrashWindowState(t *testing.T) {
	for _, tc := range []struct {
		name      string
		succeeded bool // the UID is under uncounted succeeded too
	}{
		{"failed-then-succeeded", false},
		{"duplicate-written-by-older-batchd", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := env.Namespace(t)
			ctx := context.Background()
			j := testenv.Job("wedge")
			j.Spec.BackoffLimit = ptr.To[int32](6)
			if _, err := env.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var first corev1.Pod
			poll(t, "first pod, job active", func(ctx context.Context) (bool, error) {
				pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=wedge"})
				if err != nil || len(pods.Items) != 1 {
					return false, err
				}
				first = pods.Items[0]
				got, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "wedge", metav1.GetOptions{})
				return err == nil && got.Status.Active == 1, err
			})
			uid := first.UID
			rewriteStored(t,
				storedEdit{key: "/registry/pods/" + ns + "/" + first.Name, into: &corev1.Pod{}, gv: corev1.SchemeGroupVersion,
					mutate: func(o runtime.Object) {
						p := o.(*corev1.Pod)
						p.DeletionTimestamp = &metav1.Time{Time: time.Now().Truncate(time.Second)}
						p.DeletionGracePeriodSeconds = ptr.To[int64](30)
						p.Status.Phase = corev1.PodSucceeded
						if len(p.Finalizers) == 0 {
							t.Fatalf("pod %s has no tracking finalizer", p.Name)
						}
					}},
				storedEdit{key: "/registry/batch/jobs/" + ns + "/wedge", into: &batchv1.Job{}, gv: batchv1.SchemeGroupVersion,
					mutate: func(o runtime.Object) {
						s := &o.(*batchv1.Job).Status
						s.Active, s.Terminating = 0, ptr.To[int32](1)
						s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Failed: []types.UID{uid}}
						if tc.succeeded {
							s.UncountedTerminatedPods.Succeeded = []types.UID{uid}
						}
					}},
			)

			var done *batchv1.Job
			poll(t, "job complete", func(ctx context.Context) (bool, error) {
				finishPods(t, ns, "wedge", corev1.PodSucceeded)
				got, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "wedge", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				done = got
				return jobCondition(got, batchv1.JobComplete) != nil, nil
			})
			s := done.Status
			if s.Succeeded != 1 || s.Failed != 1 || s.Active != 0 || len(s.UncountedTerminatedPods.Succeeded)+len(s.UncountedTerminatedPods.Failed) != 0 {
				t.Errorf("final status: succeeded %d failed %d active %d uncounted %+v, want 1 1 0 none",
					s.Succeeded, s.Failed, s.Active, s.UncountedTerminatedPods)
			}
			pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=wedge"})
			if err != nil {
				t.Fatal(err)
			}
			// The first pod may be gone already: it is terminating and was
			// never scheduled, which PodGC deletes (upstream's
			// gcUnscheduledTerminating). Exactly one replacement either way.
			replacements := 0
			for _, p := range pods.Items {
				if p.UID != uid {
					replacements++
				}
			}
			if replacements != 1 || len(pods.Items) > 2 {
				t.Errorf("%d pods, %d of them replacements: want the first (unless PodGC removed it) and one replacement", len(pods.Items), replacements)
			}
			for _, p := range pods.Items {
				for _, f := range p.Finalizers {
					if f == batchv1.JobTrackingFinalizer {
						t.Errorf("pod %s keeps the tracking finalizer", p.Name)
					}
				}
			}
			if p, err := env.Client.CoreV1().Pods(ns).Get(ctx, first.Name, metav1.GetOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Fatal(err)
			} else if err == nil && p.UID != uid {
				t.Errorf("first pod replaced under its name")
			}
		})
	}
}
