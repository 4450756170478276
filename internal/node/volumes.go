package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/node/volume"
)

// MountError is a volume that could not be set up (event FailedMount; the
// pod stays ContainerCreating and is retried).
type MountError struct {
	Volume string
	Err    error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}

// volumeHost is what volume setup needs besides the pod.
type volumeHost struct {
	podDir string // the pod's runtime directory
	pvcDir string // root of the local directory provisioner
	node   NodeInfo
	lookup Lookup
	now    time.Time
}

// hostVolume is a set-up volume: its path on the host, and whether
// containers get it read-only whatever their volumeMounts say.
type hostVolume struct {
	path     string
	readOnly bool
}

// setUpVolumes materialises the pod's volumes and returns their host paths.
// It is idempotent: configMap, secret and downwardAPI contents are rewritten
// when they changed.
func setUpVolumes(pod *corev1.Pod, h volumeHost) (map[string]hostVolume, error) {
	paths := map[string]hostVolume{}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		p, err := setUpVolume(pod, v, h)
		if err == nil && v.HostPath == nil {
			err = volumeOwnership(p, pod.Spec.SecurityContext, projected(v))
		}
		if err != nil {
			return nil, &MountError{Volume: v.Name, Err: err}
		}
		// The kubelet mounts these read-only, always: their contents are
		// the node agent's to write.
		paths[v.Name] = hostVolume{path: p, readOnly: projected(v)}
	}
	return paths, nil
}

func setUpVolume(pod *corev1.Pod, v *corev1.Volume, h volumeHost) (string, error) {
	dir := filepath.Join(h.podDir, "volumes", v.Name)
	switch {
	case v.HostPath != nil:
		return hostPath(v.HostPath)
	case v.EmptyDir != nil:
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
		if v.EmptyDir.Medium == corev1.StorageMediumMemory && !isMountPoint(dir) {
			opts := "mode=1777"
			if v.EmptyDir.SizeLimit != nil && !v.EmptyDir.SizeLimit.IsZero() {
				opts += ",size=" + strconv.FormatInt(v.EmptyDir.SizeLimit.Value(), 10)
			}
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
				return "", fmt.Errorf("mount tmpfs: %w", err)
			}
		}
		return dir, os.Chmod(dir, 0o777)
	case v.PersistentVolumeClaim != nil:
		name := v.PersistentVolumeClaim.ClaimName
		claim, err := h.lookup.Claim(pod.Namespace, name)
		if err != nil {
			return "", lookupError(err, "persistentvolumeclaim", name)
		}
		if claim.DeletionTimestamp != nil {
			return "", fmt.Errorf("persistentvolumeclaim %q is being deleted", name)
		}
		// The local provisioner: one directory per claim, bound on first use.
		d := filepath.Join(h.pvcDir, pod.Namespace, name)
		if err := os.MkdirAll(d, 0o777); err != nil {
			return "", err
		}
		if claim.Status.Phase != corev1.ClaimBound {
			if err := h.lookup.BindClaim(claim); err != nil {
				return "", fmt.Errorf("bind persistentvolumeclaim %q: %w", name, err)
			}
		}
		return d, nil
	}
	files, err := projectedFiles(pod, v, h)
	if err != nil {
		return "", err
	}
	return dir, volume.WriteAtomic(dir, files, h.now)
}

// projected volumes (configMap, secret, downwardAPI, projected) are read-only
// to the pod.
func projected(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

// volumeOwnership gives a volume to the pod's fsGroup as the kubelet does:
// every file and directory gets the group, read (and, unless read-only,
// write) permission for it, and directories the setgid bit so that new
// files inherit the group. With fsGroupChangePolicy OnRootMismatch nothing is
// walked when the volume's root already has the group and those bits.
func volumeOwnership(dir string, psc *corev1.PodSecurityContext, readOnly bool) error {
	if psc == nil || psc.FSGroup == nil {
		return nil
	}
	gid := int(*psc.FSGroup)
	mask := os.FileMode(0o660)
	if readOnly {
		mask = 0o440
	}
	want := func(mode os.FileMode) os.FileMode {
		m := mode.Perm() | mode&(os.ModeSetuid|os.ModeSticky) | mask
		if mode.IsDir() {
			m |= os.ModeSetgid | 0o110
		}
		return m
	}
	if psc.FSGroupChangePolicy != nil && *psc.FSGroupChangePolicy == corev1.FSGroupChangeOnRootMismatch {
		if fi, err := os.Stat(dir); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Gid) == gid && fi.Mode()&(os.ModePerm|os.ModeSetgid|os.ModeSetuid|os.ModeSticky) == want(fi.Mode()) {
				return nil
			}
		}
	}
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, -1, gid); err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			return nil // the atomic writer's links: their targets are walked
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if m := want(fi.Mode()); m != fi.Mode()&(os.ModePerm|os.ModeSetgid|os.ModeSetuid|os.ModeSticky) {
			return os.Chmod(path, m)
		}
		return nil
	})
}

// projectedFiles lists the files of configMap, secret, downwardAPI and
// projected volumes.
func projectedFiles(pod *corev1.Pod, v *corev1.Volume, h volumeHost) (map[string]volume.File, error) {
	out := map[string]volume.File{}
	mode := func(m *int32, def os.FileMode) os.FileMode {
		if m != nil {
			return os.FileMode(*m)
		}
		return def
	}
	addConfigMap := func(name string, items []corev1.KeyToPath, opt *bool, def os.FileMode) error {
		cm, err := h.lookup.ConfigMap(pod.Namespace, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(opt) {
				return nil
			}
			return lookupError(err, "configmap", name)
		}
		data := map[string][]byte{}
		for k, v := range cm.Data {
			data[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			data[k] = v
		}
		return addKeys(out, data, items, def, "configmap references non-existent config key: %s", optional(opt))
	}
	addSecret := func(name string, items []corev1.KeyToPath, opt *bool, def os.FileMode) error {
		s, err := h.lookup.Secret(pod.Namespace, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(opt) {
				return nil
			}
			return lookupError(err, "secret", name)
		}
		return addKeys(out, s.Data, items, def, "references non-existent secret key: %s", optional(opt))
	}
	addDownward := func(items []corev1.DownwardAPIVolumeFile, def os.FileMode) error {
		for _, it := range items {
			var val string
			var err error
			switch {
			case it.FieldRef != nil:
				val, err = FieldValue(pod, h.node, it.FieldRef.FieldPath)
			case it.ResourceFieldRef != nil:
				c := &pod.Spec.Containers[0]
				val, err = ResourceValue(pod, c, h.node, it.ResourceFieldRef)
			}
			if err != nil {
				return err
			}
			out[it.Path] = volume.File{Data: []byte(val), Mode: mode(it.Mode, def)}
		}
		return nil
	}
	switch {
	case v.ConfigMap != nil:
		return out, addConfigMap(v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, mode(v.ConfigMap.DefaultMode, 0o644))
	case v.Secret != nil:
		return out, addSecret(v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, mode(v.Secret.DefaultMode, 0o644))
	case v.DownwardAPI != nil:
		return out, addDownward(v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode, 0o644))
	case v.Projected != nil:
		def := mode(v.Projected.DefaultMode, 0o644)
		for _, s := range v.Projected.Sources {
			var err error
			switch {
			case s.ConfigMap != nil:
				err = addConfigMap(s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, def)
			case s.Secret != nil:
				err = addSecret(s.Secret.Name, s.Secret.Items, s.Secret.Optional, def)
			case s.DownwardAPI != nil:
				err = addDownward(s.DownwardAPI.Items, def)
			case s.ServiceAccountToken != nil:
				if h.lookup.Token == nil {
					return nil, errors.New("failed to fetch token: this node requests no service-account tokens")
				}
				var tok []byte
				if tok, err = h.lookup.Token(pod, s.ServiceAccountToken); err == nil {
					out[s.ServiceAccountToken.Path] = volume.File{Data: tok, Mode: def}
				}
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, errors.New("unsupported volume type")
}

func addKeys(out map[string]volume.File, data map[string][]byte, items []corev1.KeyToPath, def os.FileMode, missing string, opt bool) error {
	if len(items) == 0 {
		for k, v := range data {
			out[k] = volume.File{Data: v, Mode: def}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if opt {
				continue
			}
			return fmt.Errorf(missing, it.Key)
		}
		m := def
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		out[it.Path] = volume.File{Data: v, Mode: m}
	}
	return nil
}

func hostPath(hp *corev1.HostPathVolumeSource) (string, error) {
	p := hp.Path
	t := corev1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	fi, err := os.Stat(p)
	switch t {
	case corev1.HostPathDirectoryOrCreate:
		if errors.Is(err, os.ErrNotExist) {
			return p, os.MkdirAll(p, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return "", err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", err
			}
			return p, f.Close()
		}
	case corev1.HostPathDirectory:
		if err != nil || !fi.IsDir() {
			return "", fmt.Errorf("hostPath type check failed: %s is not a directory", p)
		}
	case corev1.HostPathFile:
		if err != nil || !fi.Mode().IsRegular() {
			return "", fmt.Errorf("hostPath type check failed: %s is not a file", p)
		}
	case corev1.HostPathSocket:
		if err != nil || fi.Mode()&os.ModeSocket == 0 {
			return "", fmt.Errorf("hostPath type check failed: %s is not a socket file", p)
		}
	}
	if t == corev1.HostPathUnset && errors.Is(err, os.ErrNotExist) {
		// Like a container runtime binding a missing path: create the directory.
		return p, os.MkdirAll(p, 0o755)
	}
	return p, nil
}

func isMountPoint(dir string) bool {
	var st, parent syscall.Stat_t
	if syscall.Stat(dir, &st) != nil || syscall.Stat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// mounts are the container's volume mounts as runtime mounts. A subPath
// (or an expanded subPathExpr) is checked as the kubelet checks it and
// bind-mounted from its safely opened directory at a staging path under
// podDir (volume.PrepareSubPath), which is what the container then gets.
func mounts(pod *corev1.Pod, c *corev1.Container, paths map[string]hostVolume, env []string, podDir string) ([]runtime.Mount, error) {
	values := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		values[k] = v
	}
	var out []runtime.Mount
	for i, m := range c.VolumeMounts {
		vol, ok := paths[m.Name]
		if !ok {
			continue
		}
		src := vol.path
		sub := m.SubPath
		if m.SubPathExpr != "" {
			var err error
			if sub, err = expandSubPath(m.SubPathExpr, values); err != nil {
				return nil, err
			}
		}
		if sub != "" {
			if err := volume.CheckSubPath(sub); err != nil {
				return nil, &ConfigError{Message: err.Error()}
			}
			stage := filepath.Join(podDir, "volume-subpaths", m.Name, c.Name, strconv.Itoa(i))
			staged, err := volume.PrepareSubPath(src, sub, stage)
			if err != nil {
				// Not the detail: it could tell the pod about the host's files.
				klog.Background().Error(err, "Failed to prepare subPath for volumeMount of the container", "pod", klog.KObj(pod), "containerName", c.Name, "volumeMountName", m.Name)
				return nil, &ConfigError{Message: fmt.Sprintf("failed to prepare subPath for volumeMount %q of container %q", m.Name, c.Name)}
			}
			src = staged
		}
		out = append(out, runtime.Mount{Source: src, Target: m.MountPath, ReadOnly: m.ReadOnly || vol.readOnly})
	}
	return out, nil
}

// expandSubPath expands $(VAR) in a subPathExpr; a variable that is not
// set, or empty, is an error, as in the kubelet.
func expandSubPath(expr string, values map[string]string) (string, error) {
	var missing []string
	out := Expand(expr, func(k string) (string, bool) {
		v, ok := values[k]
		if !ok || v == "" {
			missing = append(missing, k)
		}
		return v, true
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", &ConfigError{Message: "missing value for " + strings.Join(slices.Compact(missing), ", ")}
	}
	return out, nil
}
