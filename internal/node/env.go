package node

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Lookup reads the objects a container's environment refers to.
type Lookup struct {
	ConfigMap func(namespace, name string) (*corev1.ConfigMap, error)
	Secret    func(namespace, name string) (*corev1.Secret, error)
	Claim     func(namespace, name string) (*corev1.PersistentVolumeClaim, error)
	// RuntimeClass reads a node.k8s.io RuntimeClass.
	RuntimeClass func(name string) (*nodev1.RuntimeClass, error)
	// BindClaim marks a claim Bound to its local directory.
	BindClaim func(*corev1.PersistentVolumeClaim) error
	// Token is the pod's service-account token for a projected
	// serviceAccountToken source (nil: such volumes fail to mount).
	Token func(pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) ([]byte, error)
}

// NodeInfo is what a pod's environment can see of its node.
type NodeInfo struct {
	Name        string
	IP          string
	Allocatable corev1.ResourceList
	// APIHost and APIPort are the API server's address, given to pods as
	// KUBERNETES_SERVICE_HOST/PORT.
	APIHost, APIPort string
}

// defaultPath is the PATH of the common base images.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ConfigError is a container configuration the kubelet cannot run
// (reason CreateContainerConfigError).
type ConfigError struct{ Message string }

func (e *ConfigError) Error() string { return e.Message }

// envList keeps names in first-definition order, the last value winning.
type envList struct {
	order  []string
	values map[string]string
	// secrets are the values taken from Secrets, to keep out of messages.
	secrets []Redaction
}

func (l *envList) set(k, v string) {
	if _, ok := l.values[k]; !ok {
		l.order = append(l.order, k)
	}
	l.values[k] = v
}

// ContainerEnv builds the environment of c as the kubelet does: runtime
// defaults, service variables, envFrom, then env in order with $(VAR)
// expanded against what was defined before.
func ContainerEnv(pod *corev1.Pod, c *corev1.Container, node NodeInfo, lk Lookup) ([]string, error) {
	env, _, err := containerEnv(pod, c, node, lk)
	return env, err
}

// containerEnv is ContainerEnv with the values that came from Secrets.
func containerEnv(pod *corev1.Pod, c *corev1.Container, node NodeInfo, lk Lookup) ([]string, []Redaction, error) {
	l := &envList{values: map[string]string{}}
	hostname := podHostname(pod)
	l.set("PATH", defaultPath)
	l.set("HOSTNAME", hostname)
	l.set("HOME", "/root")
	if node.APIHost != "" {
		l.set("KUBERNETES_SERVICE_HOST", node.APIHost)
		l.set("KUBERNETES_SERVICE_PORT", node.APIPort)
		l.set("KUBERNETES_SERVICE_PORT_HTTPS", node.APIPort)
		l.set("KUBERNETES_PORT", "tcp://"+node.APIHost+":"+node.APIPort)
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := lk.ConfigMap(pod.Namespace, from.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, nil, lookupError(err, "configmap", from.ConfigMapRef.Name)
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, err := lk.Secret(pod.Namespace, from.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(from.SecretRef.Optional) {
					continue
				}
				return nil, nil, lookupError(err, "secret", from.SecretRef.Name)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
				l.secrets = append(l.secrets, Redaction{Value: string(v), Secret: from.SecretRef.Name, Key: k})
			}
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.Contains(from.Prefix+k, "=") {
				continue
			}
			l.set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			l.set(e.Name, Expand(e.Value, func(k string) (string, bool) { v, ok := l.values[k]; return v, ok }))
			continue
		}
		v, skip, err := valueFrom(pod, c, node, lk, e.ValueFrom)
		if err != nil {
			return nil, nil, err
		}
		if !skip {
			l.set(e.Name, v)
			if ref := e.ValueFrom.SecretKeyRef; ref != nil {
				l.secrets = append(l.secrets, Redaction{Value: v, Secret: ref.Name, Key: ref.Key})
			}
		}
	}
	out := make([]string, 0, len(l.order))
	for _, k := range l.order {
		out = append(out, k+"="+l.values[k])
	}
	return out, l.secrets, nil
}

func optional(b *bool) bool { return b != nil && *b }

func lookupError(err error, kind, name string) error {
	if apierrors.IsNotFound(err) {
		return &ConfigError{Message: fmt.Sprintf("%s %q not found", kind, name)}
	}
	return err
}

func valueFrom(pod *corev1.Pod, c *corev1.Container, node NodeInfo, lk Lookup, from *corev1.EnvVarSource) (value string, skip bool, err error) {
	switch {
	case from.FieldRef != nil:
		v, err := FieldValue(pod, node, from.FieldRef.FieldPath)
		return v, false, err
	case from.ResourceFieldRef != nil:
		v, err := ResourceValue(pod, c, node, from.ResourceFieldRef)
		return v, false, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := lk.ConfigMap(pod.Namespace, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(ref.Optional) {
				return "", true, nil
			}
			return "", false, lookupError(err, "configmap", ref.Name)
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, false, nil
		}
		if v, ok := cm.BinaryData[ref.Key]; ok {
			return string(v), false, nil
		}
		if optional(ref.Optional) {
			return "", true, nil
		}
		return "", false, &ConfigError{Message: fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)}
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := lk.Secret(pod.Namespace, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(ref.Optional) {
				return "", true, nil
			}
			return "", false, lookupError(err, "secret", ref.Name)
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), false, nil
		}
		if optional(ref.Optional) {
			return "", true, nil
		}
		return "", false, &ConfigError{Message: fmt.Sprintf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)}
	}
	return "", true, nil
}

// FieldValue resolves a downward-API field path of the pod.
func FieldValue(pod *corev1.Pod, node NodeInfo, path string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.podIP", "status.hostIPs", "status.podIPs":
		return node.IP, nil
	}
	return "", &ConfigError{Message: fmt.Sprintf("unsupported fieldPath: %s", path)}
}

func subscript(path, prefix string) (string, bool) {
	if !strings.HasPrefix(path, prefix+"['") || !strings.HasSuffix(path, "']") {
		return "", false
	}
	return path[len(prefix)+2 : len(path)-2], true
}

// formatMap renders labels or annotations as the downward API does: sorted
// key="value" lines.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k + "=" + strconv.Quote(m[k]))
	}
	return b.String()
}

// ResourceValue resolves a resourceFieldRef; unset limits default to the
// node's allocatable, as the kubelet does.
func ResourceValue(pod *corev1.Pod, c *corev1.Container, node NodeInfo, ref *corev1.ResourceFieldSelector) (string, error) {
	target := c
	if ref.ContainerName != "" {
		target = nil
		for _, x := range allContainers(&pod.Spec) {
			if x.Name == ref.ContainerName {
				target = x
			}
		}
		if target == nil {
			return "", &ConfigError{Message: fmt.Sprintf("container %s not found", ref.ContainerName)}
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", &ConfigError{Message: fmt.Sprintf("unsupported container resource : %v", ref.Resource)}
	}
	var q resource.Quantity
	switch kind {
	case "limits":
		if v, ok := target.Resources.Limits[corev1.ResourceName(name)]; ok {
			q = v
		} else {
			q = node.Allocatable[corev1.ResourceName(name)]
		}
	case "requests":
		q = target.Resources.Requests[corev1.ResourceName(name)]
	default:
		return "", &ConfigError{Message: fmt.Sprintf("unsupported container resource : %v", ref.Resource)}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == string(corev1.ResourceCPU) {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}

// Expand replaces $(VAR) references: $$ escapes, unknown references and
// malformed ones stay as written (kubelet's third_party expansion).
func Expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok && name != "" {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// Command is the argv of c with $(VAR) expanded against env.
func Command(c *corev1.Container, env []string) ([]string, error) {
	// The process runtime has no image metadata: the image's ENTRYPOINT is
	// taken to be empty (as for busybox, alpine, perl …), so args alone are
	// the command line, and a container with neither cannot run.
	if len(c.Command) == 0 && len(c.Args) == 0 {
		return nil, &ConfigError{Message: fmt.Sprintf("container %q has no command or args: batchd runs commands on this host and cannot use the default command of image %q; set command", c.Name, c.Image)}
	}
	values := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		values[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := values[k]; return v, ok }
	var argv []string
	for _, a := range append(append([]string{}, c.Command...), c.Args...) {
		argv = append(argv, Expand(a, lookup))
	}
	return argv, nil
}

// podHostname is the pod's hostname: spec.hostname or the pod name, cut to 63 characters.
func podHostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// hostsFile is the kubelet-managed /etc/hosts of a pod: the pod's hostname,
// and its FQDN when spec.subdomain is set.
func hostsFile(pod *corev1.Pod, ip string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	h := podHostname(pod)
	if pod.Spec.Subdomain != "" {
		fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.cluster.local\t%s\n", ip, h, pod.Spec.Subdomain, pod.Namespace, h)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", ip, h)
	}
	return b.String()
}
