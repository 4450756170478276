package integration

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestKubernetesService: the kubernetes Service in default has the first
// service address and its Endpoints and EndpointSlice name the API server.
func TestKubernetesService(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	svc, err := env.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.96.0.1" || svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Port != 443 ||
		svc.Spec.Ports[0].Name != "https" || svc.Spec.Ports[0].TargetPort.String() != port || svc.Labels["component"] != "apiserver" {
		t.Errorf("kubernetes service: %+v", svc.Spec)
	}
	ep, err := env.Client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.Subsets) != 1 || ep.Subsets[0].Addresses[0].IP != host || strconv.Itoa(int(ep.Subsets[0].Ports[0].Port)) != port {
		t.Errorf("kubernetes endpoints: %+v", ep.Subsets)
	}
	slice, err := env.Client.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if slice.Endpoints[0].Addresses[0] != host || strconv.Itoa(int(*slice.Ports[0].Port)) != port || slice.Labels["kubernetes.io/service-name"] != "kubernetes" {
		t.Errorf("kubernetes endpointslice: %+v", slice)
	}
}

// TestServices: ClusterIPs and node ports are allocated without collisions,
// kept over an update that omits them, and immutable; headless Services (for
// Indexed Jobs) get none.
func TestServices(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	svcs := env.Client.CoreV1().Services(ns)
	port := []corev1.ServicePort{{Port: 80}}
	a, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "a"}, Ports: port}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: port}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP(a.Spec.ClusterIP)
	_, cidr, _ := net.ParseCIDR("10.96.0.0/12")
	if ip == nil || !cidr.Contains(ip) || a.Spec.ClusterIP == b.Spec.ClusterIP || a.Spec.ClusterIP == "10.96.0.1" ||
		a.Spec.Ports[0].Protocol != corev1.ProtocolTCP || a.Spec.Ports[0].TargetPort != intstr.FromInt32(80) || a.Spec.SessionAffinity != corev1.ServiceAffinityNone ||
		len(a.Spec.ClusterIPs) != 1 || a.Spec.IPFamilies[0] != corev1.IPv4Protocol {
		t.Errorf("allocation/defaults: a=%+v b=%+v", a.Spec, b.Spec)
	}
	if np := b.Spec.Ports[0].NodePort; np < 30000 || np > 32767 {
		t.Errorf("node port %d", np)
	}
	// An explicit address in use is refused with upstream's text.
	_, err = svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: corev1.ServiceSpec{ClusterIP: a.Spec.ClusterIP, Ports: port}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("duplicate clusterIP: %v", err)
	}
	// An update without the allocated fields keeps them; changing the address is refused.
	upd := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "b", ResourceVersion: b.ResourceVersion}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: port, Selector: map[string]string{"x": "y"}}}
	got, err := svcs.Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil || got.Spec.ClusterIP != b.Spec.ClusterIP || got.Spec.Ports[0].NodePort != b.Spec.Ports[0].NodePort {
		t.Errorf("update keeps allocations: %+v %v", got, err)
	}
	got.Spec.ClusterIP, got.Spec.ClusterIPs = "10.96.5.5", []string{"10.96.5.5"}
	if _, err := svcs.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "may not change once set") {
		t.Errorf("clusterIP change: %v", err)
	}
	// Headless, as an Indexed Job's pods' subdomain.
	h, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "workers"}, Spec: corev1.ServiceSpec{ClusterIP: "None",
		Selector: map[string]string{"job-name": "work"}}}, metav1.CreateOptions{})
	if err != nil || h.Spec.ClusterIP != "None" {
		t.Fatalf("headless: %+v %v", h, err)
	}
	// Validation basics.
	_, err = svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "noports"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.ports: Required value") {
		t.Errorf("no ports: %v", err)
	}
}

// TestServiceAccountAdmission: pods get the default service account and the
// kube-api-access volume in every container, unless automount is off on the
// pod or its account; a missing account is refused with upstream's text.
func TestServiceAccountAdmission(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	pods := env.Client.CoreV1().Pods(ns)
	pod := func(name string, mutate func(*corev1.PodSpec)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox", Command: []string{"true"}}},
			Containers:     []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}, {Name: "d", Image: "busybox", Command: []string{"true"}}}}}
		if mutate != nil {
			mutate(&p.Spec)
		}
		return p
	}
	p, err := pods.Create(ctx, pod("mounted", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.ServiceAccountName != "default" || len(p.Spec.Volumes) != 1 {
		t.Fatalf("spec: %+v", p.Spec)
	}
	v := p.Spec.Volumes[0]
	if !strings.HasPrefix(v.Name, "kube-api-access-") || len(v.Name) != len("kube-api-access-")+5 || v.Projected == nil || len(v.Projected.Sources) != 3 ||
		*v.Projected.DefaultMode != 0o644 {
		t.Fatalf("volume: %+v", v)
	}
	src := v.Projected.Sources
	if src[0].ServiceAccountToken == nil || src[0].ServiceAccountToken.Path != "token" || *src[0].ServiceAccountToken.ExpirationSeconds != 3607 ||
		src[1].ConfigMap == nil || src[1].ConfigMap.Name != "kube-root-ca.crt" || src[1].ConfigMap.Items[0].Key != "ca.crt" ||
		src[2].DownwardAPI == nil || src[2].DownwardAPI.Items[0].Path != "namespace" || src[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("sources: %+v", src)
	}
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != v.Name || !c.VolumeMounts[0].ReadOnly ||
			c.VolumeMounts[0].MountPath != "/var/run/secrets/kubernetes.io/serviceaccount" {
			t.Errorf("container %s mounts %+v", c.Name, c.VolumeMounts)
		}
	}

	p, err = pods.Create(ctx, pod("pod-says-no", func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = new(false) }), metav1.CreateOptions{})
	if err != nil || len(p.Spec.Volumes) != 0 || len(p.Spec.Containers[0].VolumeMounts) != 0 {
		t.Errorf("automount false on the pod: %+v %v", p.Spec, err)
	}
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "quiet"},
		AutomountServiceAccountToken: new(false), ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err = pods.Create(ctx, pod("account-says-no", func(s *corev1.PodSpec) { s.ServiceAccountName = "quiet" }), metav1.CreateOptions{})
	if err != nil || len(p.Spec.Volumes) != 0 || len(p.Spec.ImagePullSecrets) != 1 {
		t.Errorf("automount false on the account: %+v %v", p.Spec, err)
	}
	p, err = pods.Create(ctx, pod("pod-overrides", func(s *corev1.PodSpec) { s.ServiceAccountName = "quiet"; s.AutomountServiceAccountToken = new(true) }), metav1.CreateOptions{})
	if err != nil || len(p.Spec.Volumes) != 1 {
		t.Errorf("the pod's true wins: %+v %v", p.Spec, err)
	}

	_, err = pods.Create(ctx, pod("ghostly", func(s *corev1.PodSpec) { s.ServiceAccountName = "ghost" }), metav1.CreateOptions{})
	want := `pods "ghostly" is forbidden: error looking up service account ` + ns + `/ghost: serviceaccount "ghost" not found`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("missing account: %v\nwant %s", err, want)
	}
}

// TestHeadlessServiceEndpoints: the pods of an Indexed Job behind a headless
// Service (their subdomain) appear in its Endpoints and EndpointSlice with
// their hostnames, ready or not, and leave when they finish.
func TestHeadlessServiceEndpoints(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	if _, err := env.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "workers"},
		Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"job-name": "work"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []*corev1.Pod
	for i := range 2 {
		p, err := env.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "work-" + strconv.Itoa(i) + "-abcde", Labels: map[string]string{"job-name": "work"}},
			Spec: corev1.PodSpec{Hostname: "work-" + strconv.Itoa(i), Subdomain: "workers", RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "192.0.2.7", HostIP: "192.0.2.7",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		if p, err = env.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		pods = append(pods, p)
	}
	eventually(t, "endpoints with hostnames", func() error {
		ep, err := env.Client.CoreV1().Endpoints(ns).Get(ctx, "workers", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 2 || ep.Subsets[0].Addresses[0].Hostname != "work-0" || ep.Labels["service.kubernetes.io/headless"] != "" {
			return apierrors.NewBadRequest("endpoints not yet complete")
		}
		slices, err := env.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=workers"})
		if err != nil {
			return err
		}
		if len(slices.Items) != 1 || len(slices.Items[0].Endpoints) != 2 || *slices.Items[0].Endpoints[1].Hostname != "work-1" ||
			slices.Items[0].Labels["endpointslice.kubernetes.io/managed-by"] != "endpointslice-controller.k8s.io" || slices.Items[0].OwnerReferences[0].Name != "workers" {
			return apierrors.NewBadRequest("slice not yet complete")
		}
		return nil
	})
	done := pods[0].DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	if _, err := env.Client.CoreV1().Pods(ns).UpdateStatus(ctx, done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a finished pod leaves", func() error {
		ep, err := env.Client.CoreV1().Endpoints(ns).Get(ctx, "workers", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || ep.Subsets[0].Addresses[0].Hostname != "work-1" {
			return apierrors.NewBadRequest("finished pod still listed")
		}
		return nil
	})
	if err := env.Client.CoreV1().Services(ns).Delete(ctx, "workers", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "endpoints removed with the service", func() error {
		if _, err := env.Client.CoreV1().Endpoints(ns).Get(ctx, "workers", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return apierrors.NewBadRequest("endpoints still there")
		}
		return nil
	})
}
