package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/kubernetes"
	nodelisters "k8s.io/client-go/listers/node/v1"
)

// The RuntimeClasses every batchd server has: a pod's runtimeClassName picks
// its runtime handler on the node agent.
var bootstrapRuntimeClasses = []nodev1.RuntimeClass{
	{ObjectMeta: metav1.ObjectMeta{Name: "host"}, Handler: "host"},
	{ObjectMeta: metav1.ObjectMeta{Name: "oci"}, Handler: "oci"},
}

// runtimeClassAdmission is upstream's RuntimeClass admission plugin: a new pod
// naming a RuntimeClass that does not exist is forbidden; one naming a class
// gets its overhead and scheduling constraints.
type runtimeClassAdmission struct {
	*admission.Handler
	lister nodelisters.RuntimeClassLister
	client kubernetes.Interface
}

func newRuntimeClassAdmission(lister nodelisters.RuntimeClassLister, client kubernetes.Interface) *runtimeClassAdmission {
	return &runtimeClassAdmission{Handler: admission.NewHandler(admission.Create), lister: lister, client: client}
}

var _ admission.MutationInterface = &runtimeClassAdmission{}

func (r *runtimeClassAdmission) Admit(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != corev1.Resource("pods") || a.GetSubresource() != "" {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return nil
	}
	if pod.Spec.RuntimeClassName == nil || *pod.Spec.RuntimeClassName == "" {
		if err := ApplyRuntimeClass(pod, nil); err != nil {
			return admission.NewForbidden(a, err)
		}
		return nil
	}
	name := *pod.Spec.RuntimeClassName
	rc, err := r.lister.Get(name)
	if apierrors.IsNotFound(err) {
		// The informer may lag a class just created: ask the store.
		rc, err = r.client.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return admission.NewForbidden(a, fmt.Errorf("pod rejected: RuntimeClass %q not found", name))
	}
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if err := ApplyRuntimeClass(pod, rc); err != nil {
		return admission.NewForbidden(a, err)
	}
	return nil
}

// ApplyRuntimeClass sets rc's overhead on pod and merges its node selector and
// tolerations into the pod's. An overhead the pod already has must equal the
// class's, and a pod without a class (rc nil) or whose class has none may not
// set one; a node selector key may not name two values.
func ApplyRuntimeClass(pod *corev1.Pod, rc *nodev1.RuntimeClass) error {
	if rc == nil || rc.Overhead == nil {
		if pod.Spec.Overhead != nil {
			return fmt.Errorf("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")
		}
	} else {
		if pod.Spec.Overhead != nil && !apiequality.Semantic.DeepEqual(pod.Spec.Overhead, rc.Overhead.PodFixed) {
			return fmt.Errorf("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
		}
		pod.Spec.Overhead = rc.Overhead.PodFixed.DeepCopy()
	}
	if rc == nil || rc.Scheduling == nil {
		return nil
	}
	for k, v := range rc.Scheduling.NodeSelector {
		if cur, ok := pod.Spec.NodeSelector[k]; ok && cur != v {
			return fmt.Errorf("conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s", k, v, k, cur)
		}
	}
	if len(rc.Scheduling.NodeSelector) > 0 && pod.Spec.NodeSelector == nil {
		pod.Spec.NodeSelector = map[string]string{}
	}
	for k, v := range rc.Scheduling.NodeSelector {
		pod.Spec.NodeSelector[k] = v
	}
	for _, t := range rc.Scheduling.Tolerations {
		if !hasToleration(pod.Spec.Tolerations, t) {
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, t)
		}
	}
	return nil
}

func hasToleration(ts []corev1.Toleration, t corev1.Toleration) bool {
	for _, x := range ts {
		if x.MatchToleration(&t) {
			return true
		}
	}
	return false
}
