package validation

import (
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RuntimeClass is upstream's node.k8s.io RuntimeClass validation: a DNS
// subdomain name, a DNS label handler, valid overhead quantities and valid
// scheduling labels and tolerations.
func RuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	errs := ObjectMeta(&rc.ObjectMeta, false, DNSSubdomain)
	for _, msg := range DNSLabel(rc.Handler, false) {
		errs = append(errs, field.Invalid(field.NewPath("handler"), rc.Handler, msg))
	}
	if rc.Overhead != nil {
		errs = append(errs, resources(&corev1.ResourceRequirements{Limits: rc.Overhead.PodFixed}, field.NewPath("overhead"))...)
	}
	if s := rc.Scheduling; s != nil {
		p := field.NewPath("scheduling")
		if s.NodeSelector != nil {
			errs = append(errs, Labels(s.NodeSelector, p.Child("nodeSelector"))...)
		}
		for i, t := range s.Tolerations {
			errs = append(errs, toleration(t, p.Child("tolerations").Index(i))...)
		}
	}
	return errs
}

// RuntimeClassUpdate: the handler never changes.
func RuntimeClassUpdate(rc, old *nodev1.RuntimeClass) field.ErrorList {
	errs := ObjectMetaUpdate(&rc.ObjectMeta, &old.ObjectMeta)
	return append(errs, Immutable(rc.Handler, old.Handler, field.NewPath("handler"))...)
}
