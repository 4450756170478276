package pod

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
)

// BindingREST serves pods/binding: it assigns a pending pod to a node, once.
type BindingREST struct {
	Store *genericregistry.Store
	// Now stamps the PodScheduled condition.
	Now func() metav1.Time
}

var _ rest.NamedCreater = &BindingREST{}

func (r *BindingREST) New() runtime.Object { return &corev1.Binding{} }
func (r *BindingREST) Destroy()            {}

// Create binds the pod named in the URL to binding.Target.Name.
func (r *BindingREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	b, ok := obj.(*corev1.Binding)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a Binding object: %T", obj))
	}
	if name != b.Name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Binding object")
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), b.Name,
			field.ErrorList{field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"})})
	}
	if b.Target.Name == "" {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), b.Name,
			field.ErrorList{field.Required(field.NewPath("target", "name"), "")})
	}
	if createValidation != nil {
		if err := createValidation(ctx, b.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	key, err := r.Store.KeyFunc(ctx, name)
	if err != nil {
		return nil, err
	}
	now := metav1.Now()
	if r.Now != nil {
		now = r.Now()
	}
	dryRun := len(options.DryRun) > 0
	err = r.Store.Storage.GuaranteedUpdate(ctx, key, &corev1.Pod{}, false, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
		p := obj.(*corev1.Pod)
		if p.DeletionTimestamp != nil {
			return nil, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", p.Name)
		}
		if p.Spec.NodeName != "" {
			return nil, fmt.Errorf("pod %s is already assigned to node %q", p.Name, p.Spec.NodeName)
		}
		if len(p.Spec.SchedulingGates) != 0 {
			return nil, fmt.Errorf("pod %s has non-empty .spec.schedulingGates", p.Name)
		}
		if b.UID != "" && b.UID != p.UID {
			return nil, apierrors.NewConflict(corev1.Resource("pods"), p.Name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, p.UID))
		}
		p.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if p.Annotations == nil {
				p.Annotations = map[string]string{}
			}
			p.Annotations[k] = v
		}
		setCondition(&p.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now})
		return p, nil
	}), dryRun, nil)
	if err != nil {
		if storage.IsNotFound(err) {
			return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
		}
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil, err
		}
		return nil, apierrors.NewConflict(corev1.Resource("pods/binding"), name, err)
	}
	return &metav1.Status{Status: metav1.StatusSuccess, Code: 201}, nil
}

func setCondition(s *corev1.PodStatus, c corev1.PodCondition) {
	for i := range s.Conditions {
		if s.Conditions[i].Type == c.Type {
			s.Conditions[i] = c
			return
		}
	}
	s.Conditions = append(s.Conditions, c)
}
