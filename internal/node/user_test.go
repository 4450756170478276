package node

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/node/runtime"
)

func TestContainerUser(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pod    *corev1.PodSecurityContext
		c      *corev1.SecurityContext
		server int64
		want   *runtime.User
		err    string
	}{
		{name: "nothing set: the server's identity", server: 0},
		{name: "pod runAsUser", pod: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000)}, want: &runtime.User{UID: 1000}},
		{name: "container overrides pod", pod: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](3000)},
			c: &corev1.SecurityContext{RunAsUser: ptr.To[int64](2000)}, want: &runtime.User{UID: 2000, GID: 3000}},
		{name: "supplemental groups only keep the server's uid", pod: &corev1.PodSecurityContext{SupplementalGroups: []int64{4000, 5000}},
			server: 1234, want: &runtime.User{UID: 1234, Groups: []int64{4000, 5000}}},
		{name: "fsGroup joins the supplemental groups", pod: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), SupplementalGroups: []int64{4000}, FSGroup: ptr.To[int64](2000)},
			want: &runtime.User{UID: 1000, Groups: []int64{4000, 2000}}},
		{name: "fsGroup already supplemental", pod: &corev1.PodSecurityContext{SupplementalGroups: []int64{2000}, FSGroup: ptr.To[int64](2000)},
			server: 0, want: &runtime.User{UID: 0, Groups: []int64{2000}}},
		{name: "runAsNonRoot with a non-root user", pod: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000)},
			want: &runtime.User{UID: 1000}},
		{name: "runAsNonRoot with runAsUser 0", c: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](0)},
			err: `container's runAsUser breaks non-root policy (pod: "p_ns(u1)", container: c)`},
		{name: "runAsNonRoot, no user, root server", pod: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			err: `container has runAsNonRoot and image will run as root (pod: "p_ns(u1)", container: c)`},
		{name: "runAsNonRoot, no user, non-root server", pod: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}, server: 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}, Spec: corev1.PodSpec{SecurityContext: tc.pod}}
			c := &corev1.Container{Name: "c", SecurityContext: tc.c}
			got, err := ContainerUser(pod, c, tc.server)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
