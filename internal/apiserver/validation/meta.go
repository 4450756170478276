package validation

import (
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NameFunc validates a name; prefix is true for generateName bases.
type NameFunc = apimachineryvalidation.ValidateNameFunc

// Name rules used by the served resources.
var (
	DNSSubdomain NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	DNSLabel     NameFunc = apimachineryvalidation.NameIsDNSLabel
)

// ObjectMeta validates metadata of a new object.
func ObjectMeta(m *metav1.ObjectMeta, namespaced bool, name NameFunc) field.ErrorList {
	return apimachineryvalidation.ValidateObjectMeta(m, namespaced, name, field.NewPath("metadata"))
}

// ObjectMetaUpdate validates metadata changes.
func ObjectMetaUpdate(m, old *metav1.ObjectMeta) field.ErrorList {
	return apimachineryvalidation.ValidateObjectMetaUpdate(m, old, field.NewPath("metadata"))
}

// Labels validates a label map at path.
func Labels(l map[string]string, path *field.Path) field.ErrorList {
	return metav1validation.ValidateLabels(l, path)
}

// Annotations validates an annotation map at path.
func Annotations(a map[string]string, path *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateAnnotations(a, path)
}

// LabelSelector validates a selector at path.
func LabelSelector(s *metav1.LabelSelector, path *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, path)
}

// Immutable reports a change of an immutable field.
func Immutable(newVal, oldVal any, path *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateImmutableField(newVal, oldVal, path)
}

// NonNegative32 and NonNegative64 report negative optional integers.
func NonNegative32(v *int32, path *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return apimachineryvalidation.ValidateNonnegativeField(int64(*v), path)
}

func NonNegative64(v *int64, path *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return apimachineryvalidation.ValidateNonnegativeField(*v, path)
}
