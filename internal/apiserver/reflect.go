package apiserver

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
)

// reflectNew returns a new zero value of the struct type typ as a runtime.Object.
func reflectNew(typ reflect.Type) (runtime.Object, bool) {
	obj, ok := reflect.New(typ).Interface().(runtime.Object)
	return obj, ok
}
