package apiserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// Upstream's names for the service-account token mount.
const (
	DefaultServiceAccountName  = "default"
	ServiceAccountVolumePrefix = "kube-api-access-"
	ServiceAccountMountPath    = "/var/run/secrets/kubernetes.io/serviceaccount"
	mirrorPodAnnotation        = "kubernetes.io/config.mirror"
)

// serviceAccountAdmission is upstream's ServiceAccount admission plugin for
// pod creation: the pod gets serviceAccountName default unless it names one,
// the account must exist (403 otherwise), its imagePullSecrets are copied when
// the pod has none, and — unless automountServiceAccountToken is false on the
// pod or, failing that, on the account — every container and init container
// mounts the kube-api-access-<5 random> projected volume read-only at
// /var/run/secrets/kubernetes.io/serviceaccount.
type serviceAccountAdmission struct {
	*admission.Handler
	lister corelisters.ServiceAccountLister
	client kubernetes.Interface
	// retry waits between live lookups of a default account the controller is
	// about to create (upstream: 100-200 ms, ten times).
	retry func() time.Duration
	name  func() string
}

func newServiceAccountAdmission(lister corelisters.ServiceAccountLister, client kubernetes.Interface) *serviceAccountAdmission {
	return &serviceAccountAdmission{Handler: admission.NewHandler(admission.Create), lister: lister, client: client,
		retry: func() time.Duration { return time.Duration(100+rand.IntN(100)) * time.Millisecond },
		name:  func() string { return ServiceAccountVolumePrefix + utilrand.String(5) }}
}

var _ admission.MutationInterface = &serviceAccountAdmission{}

func (s *serviceAccountAdmission) Admit(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != corev1.Resource("pods") || a.GetSubresource() != "" || a.GetOperation() != admission.Create {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return nil
	}
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		if pod.Spec.ServiceAccountName != "" {
			return admission.NewForbidden(a, fmt.Errorf("a mirror pod may not reference service accounts"))
		}
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccountName
	}
	sa, err := s.serviceAccount(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if automount(sa, pod) {
		MountServiceAccountToken(pod, s.name)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		pod.Spec.ImagePullSecrets = append([]corev1.LocalObjectReference(nil), sa.ImagePullSecrets...)
	}
	return nil
}

// serviceAccount reads the account from the cache, else from storage; the
// default account is waited for a little, as the controller makes it when
// the namespace appears.
func (s *serviceAccountAdmission) serviceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	sa, err := s.lister.ServiceAccounts(namespace).Get(name)
	if err == nil || !apierrors.IsNotFound(err) {
		return sa, err
	}
	attempts := 1
	if name == DefaultServiceAccountName {
		attempts = 10
	}
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(s.retry()):
			}
		}
		sa, err := s.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return sa, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
}

func automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// TokenVolumeSource is the projected volume upstream mounts: a token for the
// API server bound to the pod (3607 s, the kubelet refreshes it), the cluster
// CA from kube-root-ca.crt and the pod's namespace.
func TokenVolumeSource() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: new(int32(corev1.ProjectedVolumeSourceDefaultMode)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: new(int64(3607))}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
}

// MountServiceAccountToken adds the token volume (named by name unless the pod
// has one already) and mounts it in every container and init container that
// mounts nothing at the service-account path yet.
func MountServiceAccountToken(pod *corev1.Pod, name func() string) {
	volume := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, ServiceAccountVolumePrefix) {
			volume = v.Name
			break
		}
	}
	has := volume != ""
	if !has {
		volume = name()
	}
	mount := corev1.VolumeMount{Name: volume, ReadOnly: true, MountPath: ServiceAccountMountPath}
	needed := false
	add := func(cs []corev1.Container) {
		for i := range cs {
			mounted := false
			for _, m := range cs[i].VolumeMounts {
				if m.MountPath == ServiceAccountMountPath {
					mounted = true
					break
				}
			}
			if !mounted {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	if !has && needed {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()}})
	}
}
