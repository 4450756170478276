package apiserver

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

func eachListItem(list runtime.Object, fn func(runtime.Object)) error {
	return meta.EachListItem(list, func(o runtime.Object) error {
		fn(o)
		return nil
	})
}
