package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node/oci"
	"github.com/batchd/batchd/internal/node/runtime"
)

// Runtime handlers a pod's runtimeClassName names.
const (
	RuntimeHost = "host" // the pod's commands run as host processes
	RuntimeOCI  = "oci"  // the pod's images run with runc or crun
)

// PullError is an image that cannot be used (yet): its waiting reason and
// message, the event already recorded.
type PullError struct{ Waiting corev1.ContainerStateWaiting }

func (e *PullError) Error() string { return e.Waiting.Message }

// ChooseDefaultRuntime is the handler of pods without runtimeClassName for
// --default-runtime flag: auto is oci when an OCI runtime was found, else host.
func ChooseDefaultRuntime(flag, ociRuntime string) string {
	if flag != "auto" {
		return flag
	}
	if ociRuntime != "" {
		return RuntimeOCI
	}
	return RuntimeHost
}

// SandboxError is a pod the node has no runtime for (the kubelet's
// FailedCreatePodSandBox): its RuntimeClass is missing or names a handler
// this node does not have.
type SandboxError struct{ Message string }

func (e *SandboxError) Error() string { return e.Message }

// handler is the runtime handler of pod, its RuntimeClass's, else the node's
// default, and for an OCI handler the runc or crun binary it runs with.
func (a *Agent) handler(pod *corev1.Pod) (name string, oci runtime.OCIRuntime, err error) {
	name = a.cfg.DefaultRuntime
	if rc := pod.Spec.RuntimeClassName; rc != nil && *rc != "" {
		if a.lookup.RuntimeClass == nil {
			return "", runtime.OCIRuntime{}, &SandboxError{Message: fmt.Sprintf("RuntimeClass %q not found", *rc)}
		}
		class, err := a.lookup.RuntimeClass(*rc)
		if apierrors.IsNotFound(err) {
			return "", runtime.OCIRuntime{}, &SandboxError{Message: fmt.Sprintf("RuntimeClass %q not found", *rc)}
		}
		if err != nil {
			return "", runtime.OCIRuntime{}, fmt.Errorf("RuntimeClass %q: %w", *rc, err)
		}
		name = class.Handler
	}
	switch name {
	case "", RuntimeHost:
		return RuntimeHost, runtime.OCIRuntime{}, nil
	case RuntimeOCI:
		if a.cfg.OCIRuntime.IsZero() || a.cfg.Images == nil {
			return "", runtime.OCIRuntime{}, &SandboxError{Message: `no runtime for "oci" is configured: install runc or crun, or pass batchd server --oci-runtime`}
		}
		return RuntimeOCI, a.cfg.OCIRuntime, nil
	}
	if o := a.cfg.NamedOCIRuntimes[name]; !o.IsZero() && a.cfg.Images != nil {
		return name, o, nil
	}
	return "", runtime.OCIRuntime{}, &SandboxError{Message: fmt.Sprintf("no runtime for %q is configured", name)}
}

// ensureImage makes c's image available as its pull policy says, recording
// the kubelet's events, and returns it with its root file system.
func (a *Agent) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (image.Image, string, error) {
	stored, present, _ := a.cfg.Images.Get(c.Image)
	a.mu.Lock()
	st := a.pulls[c.Image]
	a.mu.Unlock()
	act := image.Decide(c.Image, c.ImagePullPolicy, present, st, a.cfg.Clock.Now())
	if act.EventReason != "" && !act.Pull {
		a.event(pod, c.Name, act.EventType, act.EventReason, act.EventMessage)
	}
	switch {
	case act.Waiting != nil:
		return image.Image{}, "", &PullError{Waiting: *act.Waiting}
	case act.Pull:
		a.event(pod, c.Name, act.EventType, act.EventReason, act.EventMessage)
		began := a.cfg.Clock.Now()
		img, err := a.cfg.Images.Pull(ctx, c.Image, a.keychain(pod))
		if err != nil {
			a.mu.Lock()
			st = a.pulls[c.Image]
			a.pulls[c.Image] = image.PullState{Failures: st.Failures + 1, LastErr: err.Error(), Last: a.cfg.Clock.Now()}
			a.mu.Unlock()
			failed := image.PullFailed(c.Image, err)
			a.event(pod, c.Name, failed.EventType, failed.EventReason, failed.EventMessage)
			return image.Image{}, "", &PullError{Waiting: *failed.Waiting}
		}
		a.mu.Lock()
		delete(a.pulls, c.Image)
		a.mu.Unlock()
		done := image.Pulled(c.Image, a.cfg.Clock.Since(began), img.Size)
		a.event(pod, c.Name, done.EventType, done.EventReason, done.EventMessage)
		stored = img
		select { // the store grew: see whether the disk is now too full
		case a.pulled <- struct{}{}:
		default:
		}
	}
	a.imageUsed(stored.Ref, a.cfg.Clock.Now())
	root, err := a.cfg.Images.Rootfs(stored.Ref)
	if err != nil {
		return image.Image{}, "", fmt.Errorf("unpack image %q: %w", c.Image, err)
	}
	return stored, root, nil
}

// keychain is the pod's imagePullSecrets, then ~/.docker/config.json.
func (a *Agent) keychain(pod *corev1.Pod) authn.Keychain {
	chains := []authn.Keychain{}
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := a.lookup.Secret(pod.Namespace, ref.Name)
		if err != nil {
			continue // the kubelet pulls without a secret it cannot read
		}
		for _, key := range []string{corev1.DockerConfigJsonKey, corev1.DockerConfigKey} {
			if data, ok := s.Data[key]; ok {
				if cfg, err := image.ParseDockerConfig(data); err == nil {
					chains = append(chains, cfg)
				}
			}
		}
	}
	return authn.NewMultiKeychain(append(chains, authn.DefaultKeychain)...)
}

// ociSpec is how a container of an OCI pod runs: its image's root file
// system under an overlay, the image's command, environment, working
// directory and user merged with the container's as the runtimes do.
func (a *Agent) ociSpec(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id runtime.ID, env []string, mounts []runtime.Mount, bin runtime.OCIRuntime) (runtime.Spec, error) {
	img, root, err := a.ensureImage(ctx, pod, c)
	if err != nil {
		return runtime.Spec{}, err
	}
	values := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		values[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := values[k]; return v, ok }
	expand := func(in []string) []string {
		var out []string
		for _, s := range in {
			out = append(out, Expand(s, lookup))
		}
		return out
	}
	argv := oci.Command(img.Config.Entrypoint, img.Config.Cmd, expand(c.Command), expand(c.Args))
	if len(argv) == 0 {
		return runtime.Spec{}, &ConfigError{Message: fmt.Sprintf("no command specified: image %q has no ENTRYPOINT or CMD and container %q no command", c.Image, c.Name)}
	}
	// PATH and HOME are the image's; the host runtime's defaults are not.
	var podEnv []string
	for _, kv := range env {
		if kv == "PATH="+defaultPath || kv == "HOME=/root" {
			continue
		}
		podEnv = append(podEnv, kv)
	}
	imageEnv := img.Config.Env
	if !hasKey(imageEnv, "PATH") {
		imageEnv = append([]string{"PATH=" + defaultPath}, imageEnv...)
	}
	cwd := c.WorkingDir
	if cwd == "" {
		cwd = img.Config.WorkingDir
	}
	user, err := a.ociUser(pod, c, img, root)
	if err != nil {
		return runtime.Spec{}, err
	}
	in := oci.Input{
		Args: argv, Env: oci.Env(imageEnv, podEnv), Cwd: cwd, Hostname: podHostname(pod), User: user,
	}
	for _, m := range mounts {
		in.Mounts = append(in.Mounts, oci.Mount{Source: m.Source, Destination: m.Target, ReadOnly: m.ReadOnly})
	}
	if sc := c.SecurityContext; sc != nil {
		in.Privileged = sc.Privileged != nil && *sc.Privileged
		in.ReadOnlyRoot = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
		in.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
		if sc.Capabilities != nil {
			for _, cp := range sc.Capabilities.Add {
				in.CapAdd = append(in.CapAdd, string(cp))
			}
			for _, cp := range sc.Capabilities.Drop {
				in.CapDrop = append(in.CapDrop, string(cp))
			}
		}
	}
	imageName, imageID := image.StatusNames(img)
	return runtime.Spec{
		ID: id, OCI: &runtime.OCI{Runtime: bin, Spec: oci.Spec(in), Image: root, ImageName: imageName, ImageID: imageID},
		Resources: runtime.Resources{MemoryBytes: c.Resources.Limits.Memory().Value(), CPUMillis: c.Resources.Limits.Cpu().MilliValue()},
	}, nil
}

// ociUser is runAsUser/runAsGroup when set, else the image's USER, with
// runAsNonRoot checked against the result as the kubelet does.
func (a *Agent) ociUser(pod *corev1.Pod, c *corev1.Container, img image.Image, root string) (oci.User, error) {
	passwd, _ := os.Open(filepath.Join(root, "etc", "passwd"))
	group, _ := os.Open(filepath.Join(root, "etc", "group"))
	defer closeIf(passwd)
	defer closeIf(group)
	iu, err := oci.ImageUser(img.Config.User, readerOrNil(passwd), readerOrNil(group))
	if err != nil {
		return oci.User{}, &ConfigError{Message: err.Error()}
	}
	u, err := ContainerUser(pod, c, int64(iu.UID))
	if err != nil {
		return oci.User{}, err
	}
	if u == nil {
		return iu, nil
	}
	out := oci.User{UID: uint32(u.UID), GID: uint32(u.GID)}
	if u.UID == int64(iu.UID) && !runAsGroupSet(pod, c) {
		out.GID = iu.GID
	}
	for _, g := range u.Groups {
		out.Groups = append(out.Groups, uint32(g))
	}
	return out, nil
}

func runAsGroupSet(pod *corev1.Pod, c *corev1.Container) bool {
	return (c.SecurityContext != nil && c.SecurityContext.RunAsGroup != nil) ||
		(pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.RunAsGroup != nil)
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func closeIf(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// readerOrNil keeps a nil *os.File from becoming a non-nil io.Reader.
func readerOrNil(f *os.File) io.Reader {
	if f == nil {
		return nil
	}
	return f
}

// pullWaiting is the waiting state of a failed image step, if err is one.
func pullWaiting(err error, now time.Time) (*Waiting, bool) {
	var pe *PullError
	if !errors.As(err, &pe) {
		return nil, false
	}
	return &Waiting{Reason: pe.Waiting.Reason, Message: pe.Waiting.Message, At: now}, true
}
