package validation

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PodOptions vary pod validation between pods and pod templates.
type PodOptions struct {
	// Template relaxes what a template may leave for later (an empty image).
	Template bool
}

// PodTemplateSpec validates a pod template (Job, CronJob).
func PodTemplateSpec(t *corev1.PodTemplateSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, Labels(t.Labels, path.Child("metadata", "labels"))...)
	errs = append(errs, Annotations(t.Annotations, path.Child("metadata", "annotations"))...)
	errs = append(errs, PodSpec(&t.Spec, PodOptions{Template: true}, path.Child("spec"))...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(path.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

var (
	restartPolicies      = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	dnsPolicies          = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	pullPolicies         = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	protocols            = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
	terminationPolicies  = []corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}
	tolerationOperators  = []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}
	taintEffects         = []corev1.TaintEffect{corev1.TaintEffectNoExecute, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule}
	envFieldPaths        = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	envResourceNames     = []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"}
	computeResourceNames = sets.New[corev1.ResourceName](corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage)
)

func quoted[T ~string](vals []T) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out
}

// PodSpec validates a pod spec.
func PodSpec(spec *corev1.PodSpec, opts PodOptions, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	vols, volErrs := volumes(spec.Volumes, p.Child("volumes"))
	errs = append(errs, volErrs...)

	// As upstream: the containers first, then the init containers, whose
	// names must differ from the containers' (a clash is the init
	// container's error).
	names := sets.New[string]()
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	errs = append(errs, containers(spec.Containers, vols, names, opts, false, p.Child("containers"))...)
	errs = append(errs, containers(spec.InitContainers, vols, names, opts, true, p.Child("initContainers"))...)
	errs = append(errs, ephemeralContainers(spec, vols, names, p.Child("ephemeralContainers"))...)

	if spec.RestartPolicy != "" && !contains(restartPolicies, spec.RestartPolicy) {
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), spec.RestartPolicy, quoted(restartPolicies)))
	} else if spec.RestartPolicy == "" {
		errs = append(errs, field.Required(p.Child("restartPolicy"), ""))
	}
	if spec.DNSPolicy != "" && !contains(dnsPolicies, spec.DNSPolicy) {
		errs = append(errs, field.NotSupported(p.Child("dnsPolicy"), spec.DNSPolicy, quoted(dnsPolicies)))
	}
	errs = append(errs, Labels(spec.NodeSelector, p.Child("nodeSelector"))...)
	if spec.ServiceAccountName != "" {
		for _, msg := range DNSSubdomain(spec.ServiceAccountName, false) {
			errs = append(errs, field.Invalid(p.Child("serviceAccountName"), spec.ServiceAccountName, msg))
		}
	}
	if spec.NodeName != "" {
		for _, msg := range DNSSubdomain(spec.NodeName, false) {
			errs = append(errs, field.Invalid(p.Child("nodeName"), spec.NodeName, msg))
		}
	}
	if spec.ActiveDeadlineSeconds != nil && *spec.ActiveDeadlineSeconds < 1 {
		errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *spec.ActiveDeadlineSeconds, utilvalidation.InclusiveRangeError(1, 2147483647)))
	}
	errs = append(errs, NonNegative64(spec.TerminationGracePeriodSeconds, p.Child("terminationGracePeriodSeconds"))...)
	if spec.Hostname != "" {
		for _, msg := range utilvalidation.IsDNS1123Label(spec.Hostname) {
			errs = append(errs, field.Invalid(p.Child("hostname"), spec.Hostname, msg))
		}
	}
	if spec.Subdomain != "" {
		for _, msg := range utilvalidation.IsDNS1123Label(spec.Subdomain) {
			errs = append(errs, field.Invalid(p.Child("subdomain"), spec.Subdomain, msg))
		}
	}
	for i, t := range spec.Tolerations {
		errs = append(errs, toleration(t, p.Child("tolerations").Index(i))...)
	}
	if sc := spec.SecurityContext; sc != nil {
		errs = append(errs, NonNegative64(sc.RunAsUser, p.Child("securityContext", "runAsUser"))...)
		errs = append(errs, NonNegative64(sc.RunAsGroup, p.Child("securityContext", "runAsGroup"))...)
		errs = append(errs, NonNegative64(sc.FSGroup, p.Child("securityContext", "fsGroup"))...)
	}
	return errs
}

func contains[T comparable](vals []T, v T) bool {
	for _, x := range vals {
		if x == v {
			return true
		}
	}
	return false
}

func toleration(t corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		for _, msg := range utilvalidation.IsQualifiedName(t.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), t.Key, msg))
		}
	}
	switch t.Operator {
	case corev1.TolerationOpEqual, "":
		if t.Key == "" {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
	case corev1.TolerationOpExists:
		if t.Value != "" {
			errs = append(errs, field.Invalid(p.Child("operator"), t, "value must be empty when `operator` is 'Exists'"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator, quoted(tolerationOperators)))
	}
	if t.Effect != "" && !contains(taintEffects, t.Effect) {
		errs = append(errs, field.NotSupported(p.Child("effect"), t.Effect, quoted(taintEffects)))
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		errs = append(errs, field.Invalid(p.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
	}
	return errs
}

// volumes returns the volume names and their errors.
func volumes(vols []corev1.Volume, p *field.Path) (sets.Set[string], field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, v := range vols {
		vp := p.Index(i)
		if v.Name == "" {
			errs = append(errs, field.Required(vp.Child("name"), ""))
		} else {
			for _, msg := range utilvalidation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(vp.Child("name"), v.Name, msg))
			}
			if names.Has(v.Name) {
				errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
			}
			names.Insert(v.Name)
		}
		errs = append(errs, volumeSource(&v.VolumeSource, vp)...)
	}
	return names, errs
}

func volumeSource(s *corev1.VolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if s.EmptyDir != nil {
		n++
		if s.EmptyDir.SizeLimit != nil && s.EmptyDir.SizeLimit.Sign() < 0 {
			errs = append(errs, field.Invalid(p.Child("emptyDir", "sizeLimit"), s.EmptyDir.SizeLimit.String(), "SizeLimit field must be a valid resource quantity"))
		}
	}
	if s.HostPath != nil {
		n++
		if s.HostPath.Path == "" {
			errs = append(errs, field.Required(p.Child("hostPath", "path"), ""))
		}
	}
	if s.ConfigMap != nil {
		n++
		if s.ConfigMap.Name == "" {
			errs = append(errs, field.Required(p.Child("configMap", "name"), ""))
		}
		errs = append(errs, keyPaths(s.ConfigMap.Items, p.Child("configMap", "items"))...)
	}
	if s.Secret != nil {
		n++
		if s.Secret.SecretName == "" {
			errs = append(errs, field.Required(p.Child("secret", "secretName"), ""))
		}
		errs = append(errs, keyPaths(s.Secret.Items, p.Child("secret", "items"))...)
	}
	if s.PersistentVolumeClaim != nil {
		n++
		if s.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(p.Child("persistentVolumeClaim", "claimName"), ""))
		}
	}
	if s.DownwardAPI != nil {
		n++
	}
	if s.Projected != nil {
		n++
	}
	for _, other := range []bool{s.NFS != nil, s.CSI != nil, s.Ephemeral != nil, s.Image != nil, s.ISCSI != nil, s.Glusterfs != nil, s.RBD != nil, s.FC != nil, s.AzureFile != nil, s.AzureDisk != nil, s.GCEPersistentDisk != nil, s.AWSElasticBlockStore != nil, s.Cinder != nil, s.CephFS != nil, s.Flocker != nil, s.FlexVolume != nil, s.VsphereVolume != nil, s.Quobyte != nil, s.PhotonPersistentDisk != nil, s.PortworxVolume != nil, s.ScaleIO != nil, s.StorageOS != nil, s.GitRepo != nil} {
		if other {
			n++
		}
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(p, "must specify a volume type"))
	case n > 1:
		errs = append(errs, field.Forbidden(p, "may not specify more than 1 volume type"))
	}
	return errs
}

func keyPaths(items []corev1.KeyToPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, kp := range items {
		ip := p.Index(i)
		if kp.Key == "" {
			errs = append(errs, field.Required(ip.Child("key"), ""))
		}
		errs = append(errs, localPath(kp.Path, ip.Child("path"))...)
	}
	return errs
}

func localPath(target string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if target == "" {
		return append(errs, field.Required(p, ""))
	}
	if path.IsAbs(target) {
		errs = append(errs, field.Invalid(p, target, "must be a relative path"))
	}
	for _, item := range strings.Split(target, "/") {
		if item == ".." {
			errs = append(errs, field.Invalid(p, target, "must not contain '..'"))
			break
		}
	}
	return errs
}

func containers(ctrs []corev1.Container, vols, names sets.Set[string], opts PodOptions, init bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range ctrs {
		c := &ctrs[i]
		cp := p.Index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(cp.Child("name"), ""))
		} else {
			for _, msg := range utilvalidation.IsDNS1123Label(c.Name) {
				errs = append(errs, field.Invalid(cp.Child("name"), c.Name, msg))
			}
			if names.Has(c.Name) {
				errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
			}
			names.Insert(c.Name)
		}
		// As upstream: an image is required in templates too; only a pod's
		// image may not have surrounding whitespace (" " is a template token
		// some tools substitute).
		if c.Image == "" {
			errs = append(errs, field.Required(cp.Child("image"), ""))
		} else if !opts.Template && c.Image != strings.TrimSpace(c.Image) {
			errs = append(errs, field.Invalid(cp.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		if c.ImagePullPolicy != "" && !contains(pullPolicies, c.ImagePullPolicy) {
			errs = append(errs, field.NotSupported(cp.Child("imagePullPolicy"), c.ImagePullPolicy, quoted(pullPolicies)))
		}
		if c.TerminationMessagePolicy != "" && !contains(terminationPolicies, c.TerminationMessagePolicy) {
			errs = append(errs, field.NotSupported(cp.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, quoted(terminationPolicies)))
		}
		errs = append(errs, containerRestartPolicy(c, init, cp)...)
		errs = append(errs, ports(c.Ports, cp.Child("ports"))...)
		errs = append(errs, env(c.Env, cp.Child("env"))...)
		errs = append(errs, envFrom(c.EnvFrom, cp.Child("envFrom"))...)
		errs = append(errs, volumeMounts(c.VolumeMounts, vols, cp.Child("volumeMounts"))...)
		errs = append(errs, resources(&c.Resources, cp.Child("resources"))...)
	}
	return errs
}

func ports(ps []corev1.ContainerPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ps {
		pp := p.Index(i)
		if port.Name != "" {
			for _, msg := range utilvalidation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
			}
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(pp.Child("containerPort"), ""))
		} else {
			for _, msg := range utilvalidation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(pp.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range utilvalidation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, msg))
			}
		}
		if port.Protocol == "" {
			errs = append(errs, field.Required(pp.Child("protocol"), ""))
		} else if !contains(protocols, port.Protocol) {
			errs = append(errs, field.NotSupported(pp.Child("protocol"), port.Protocol, quoted(protocols)))
		}
	}
	return errs
}

func env(vars []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		ep := p.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			for _, msg := range utilvalidation.IsRelaxedEnvVarName(ev.Name) {
				errs = append(errs, field.Invalid(ep.Child("name"), ev.Name, msg))
			}
		}
		if ev.ValueFrom != nil {
			errs = append(errs, envSource(ev, ep.Child("valueFrom"))...)
		}
	}
	return errs
}

func envSource(ev corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	src := ev.ValueFrom
	n := 0
	if src.FieldRef != nil {
		n++
		fp := p.Child("fieldRef", "fieldPath")
		if src.FieldRef.FieldPath == "" {
			errs = append(errs, field.Required(fp, ""))
		} else if ok, msg := envFieldPath(src.FieldRef.FieldPath); !ok {
			if msg == "" {
				errs = append(errs, field.NotSupported(fp, src.FieldRef.FieldPath, envFieldPaths))
			} else {
				errs = append(errs, field.Invalid(fp, src.FieldRef.FieldPath, msg))
			}
		}
	}
	if src.ResourceFieldRef != nil {
		n++
		rp := p.Child("resourceFieldRef", "resource")
		if src.ResourceFieldRef.Resource == "" {
			errs = append(errs, field.Required(rp, ""))
		} else if !contains(envResourceNames, src.ResourceFieldRef.Resource) && !strings.HasPrefix(src.ResourceFieldRef.Resource, "limits.hugepages-") && !strings.HasPrefix(src.ResourceFieldRef.Resource, "requests.hugepages-") {
			errs = append(errs, field.NotSupported(rp, src.ResourceFieldRef.Resource, envResourceNames))
		}
	}
	if src.ConfigMapKeyRef != nil {
		n++
		errs = append(errs, keyRef(src.ConfigMapKeyRef.Name, src.ConfigMapKeyRef.Key, p.Child("configMapKeyRef"))...)
	}
	if src.SecretKeyRef != nil {
		n++
		errs = append(errs, keyRef(src.SecretKeyRef.Name, src.SecretKeyRef.Key, p.Child("secretKeyRef"))...)
	}
	if src.FileKeyRef != nil {
		n++
	}
	if n == 0 {
		errs = append(errs, field.Invalid(p, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	} else if n > 1 {
		errs = append(errs, field.Invalid(p, "", "may not have more than one field specified at a time"))
	}
	if ev.Value != "" && n > 0 {
		errs = append(errs, field.Invalid(p, "", "may not be specified when `value` is not empty"))
	}
	return errs
}

// envFieldPath reports whether a downward-API path may feed an env var.
func envFieldPath(fp string) (bool, string) {
	for _, prefix := range []string{"metadata.labels", "metadata.annotations"} {
		if strings.HasPrefix(fp, prefix+"[") {
			if !strings.HasSuffix(fp, "]") || len(fp) < len(prefix)+4 || fp[len(prefix)+1] != '\'' || fp[len(fp)-2] != '\'' {
				return false, fmt.Sprintf("invalid subscript in %s", fp)
			}
			key := fp[len(prefix)+2 : len(fp)-2]
			if msgs := utilvalidation.IsQualifiedName(strings.ToLower(key)); len(msgs) > 0 {
				return false, strings.Join(msgs, ";")
			}
			return true, ""
		}
	}
	switch fp {
	case "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs":
		return true, ""
	}
	return false, ""
}

func keyRef(name, key string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		for _, msg := range utilvalidation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(p.Child("key"), key, msg))
		}
	}
	return errs
}

func envFrom(srcs []corev1.EnvFromSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range srcs {
		sp := p.Index(i)
		n := 0
		if s.ConfigMapRef != nil {
			n++
			if s.ConfigMapRef.Name == "" {
				errs = append(errs, field.Required(sp.Child("configMapRef", "name"), ""))
			}
		}
		if s.SecretRef != nil {
			n++
			if s.SecretRef.Name == "" {
				errs = append(errs, field.Required(sp.Child("secretRef", "name"), ""))
			}
		}
		if n == 0 {
			errs = append(errs, field.Invalid(sp, "", "must specify one of: `configMapRef` or `secretRef`"))
		} else if n > 1 {
			errs = append(errs, field.Invalid(sp, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func volumeMounts(mounts []corev1.VolumeMount, vols sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range mounts {
		mp := p.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else if !vols.Has(m.Name) {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		} else if paths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths.Insert(m.MountPath)
		if m.SubPath != "" {
			errs = append(errs, localPath(m.SubPath, mp.Child("subPath"))...)
		}
	}
	return errs
}

func resources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(list corev1.ResourceList, lp *field.Path) {
		for name, q := range list {
			qp := lp.Key(string(name))
			if !computeResourceNames.Has(name) && !strings.HasPrefix(string(name), "hugepages-") && !strings.Contains(string(name), "/") {
				errs = append(errs, field.Invalid(qp, name, "must be a standard resource type or fully qualified"))
				continue
			}
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(qp, q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	check(r.Limits, p.Child("limits"))
	check(r.Requests, p.Child("requests"))
	for name, req := range r.Requests {
		lim, ok := r.Limits[name]
		if ok && req.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(p.Child("requests"), req.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	return errs
}

// PodMetaName is the rule for pod names.
func PodMetaName(m *metav1.ObjectMeta) field.ErrorList { return ObjectMeta(m, true, DNSSubdomain) }

// Container restart rules (KEP-5307, ContainerRestartRules, on by default in
// the API version batchd serves): every container may set restartPolicy
// (Always, OnFailure, Never); restartPolicyRules need the container's own
// restartPolicy, at most 20 rules, each with the action Restart and an
// exitCodes requirement (operator In or NotIn, at most 255 values). An init
// container with restartPolicy Always is a sidecar, which takes no rules
// (RestartAllContainers, the one action meant for sidecars, is behind an
// alpha gate that is off). As upstream's validateContainerRestartPolicy.
const (
	maxRestartPolicyRules   = 20
	maxRestartRuleExitCodes = 255
)

var (
	containerRestartPolicies = []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways, corev1.ContainerRestartPolicyNever, corev1.ContainerRestartPolicyOnFailure}
	restartRuleActions       = []corev1.ContainerRestartRuleAction{corev1.ContainerRestartRuleActionRestart}
	restartRuleOperators     = []corev1.ContainerRestartRuleOnExitCodesOperator{corev1.ContainerRestartRuleOnExitCodesOpIn, corev1.ContainerRestartRuleOnExitCodesOpNotIn}
)

func containerRestartPolicy(c *corev1.Container, init bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	policyPath, rulesPath := p.Child("restartPolicy"), p.Child("restartPolicyRules")
	if c.RestartPolicy == nil {
		if len(c.RestartPolicyRules) > 0 {
			errs = append(errs, field.Required(policyPath, "must specify restartPolicy when restart rules are used"))
		}
		return errs
	}
	if !contains(containerRestartPolicies, *c.RestartPolicy) {
		errs = append(errs, field.NotSupported(policyPath, *c.RestartPolicy, quoted(containerRestartPolicies)))
	}
	if init && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways && len(c.RestartPolicyRules) > 0 {
		errs = append(errs, field.Forbidden(rulesPath, "restartPolicyRules are not allowed on sidecar containers"))
	}
	if len(c.RestartPolicyRules) > maxRestartPolicyRules {
		errs = append(errs, field.TooMany(rulesPath, len(c.RestartPolicyRules), maxRestartPolicyRules))
	}
	for i, r := range c.RestartPolicyRules {
		rp := rulesPath.Index(i)
		if !contains(restartRuleActions, r.Action) {
			errs = append(errs, field.NotSupported(rp.Child("action"), r.Action, quoted(restartRuleActions)))
		}
		if r.ExitCodes == nil {
			errs = append(errs, field.Required(rp.Child("exitCodes"), "must be specified"))
			continue
		}
		ep := rp.Child("exitCodes")
		if !contains(restartRuleOperators, r.ExitCodes.Operator) {
			errs = append(errs, field.NotSupported(ep.Child("operator"), r.ExitCodes.Operator, quoted(restartRuleOperators)))
		}
		if len(r.ExitCodes.Values) > maxRestartRuleExitCodes {
			errs = append(errs, field.TooMany(ep.Child("values"), len(r.ExitCodes.Values), maxRestartRuleExitCodes))
		}
	}
	return errs
}
