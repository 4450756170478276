package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/admission"
)

// DefaultTolerations are kube-apiserver's --default-not-ready-toleration-seconds
// and --default-unreachable-toleration-seconds.
type DefaultTolerations struct {
	NotReadySeconds, UnreachableSeconds int64
}

// DefaultTolerationSeconds is upstream's 300 s for both.
var DefaultTolerationSeconds = DefaultTolerations{NotReadySeconds: 300, UnreachableSeconds: 300}

// defaultTolerationSeconds is upstream's DefaultTolerationSeconds admission
// plugin: a pod that does not tolerate the not-ready and unreachable
// NoExecute taints gets tolerations of them for a while, so that a node
// lost for a moment does not lose its pods, and one lost for good does.
type defaultTolerationSeconds struct {
	*admission.Handler
	seconds DefaultTolerations
}

func newDefaultTolerationSeconds(d DefaultTolerations) *defaultTolerationSeconds {
	return &defaultTolerationSeconds{Handler: admission.NewHandler(admission.Create, admission.Update), seconds: d}
}

var _ admission.MutationInterface = &defaultTolerationSeconds{}

func (d *defaultTolerationSeconds) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != corev1.Resource("pods") || a.GetSubresource() != "" {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return nil
	}
	AddDefaultTolerations(pod, d.seconds)
	return nil
}

// AddDefaultTolerations adds the two tolerations a pod lacks. A toleration
// with an empty key or effect already covers a taint.
func AddDefaultTolerations(pod *corev1.Pod, d DefaultTolerations) {
	notReady, unreachable := false, false
	for _, t := range pod.Spec.Tolerations {
		noExecute := t.Effect == corev1.TaintEffectNoExecute || t.Effect == ""
		notReady = notReady || (noExecute && (t.Key == corev1.TaintNodeNotReady || t.Key == ""))
		unreachable = unreachable || (noExecute && (t.Key == corev1.TaintNodeUnreachable || t.Key == ""))
	}
	if !notReady {
		s := d.NotReadySeconds
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &s})
	}
	if !unreachable {
		s := d.UnreachableSeconds
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &s})
	}
}
