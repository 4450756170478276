package registry

import "reflect"

// clearPointee sets *p to its zero value; p must be a non-nil pointer.
func clearPointee(p any) {
	v := reflect.ValueOf(p).Elem()
	v.Set(reflect.Zero(v.Type()))
}

// copyPointee sets *dst = *src; both must be pointers to the same type.
func copyPointee(dst, src any) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}
