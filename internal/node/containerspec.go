package node

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node/oci"
	"github.com/batchd/batchd/internal/node/runtime"
)

// The container spec builders: pure functions of the pod, the container
// and what prepare.go made ready for it (its environment, through Lookup;
// its mounts; its image), to the runtime's Spec.

// hostSpec is how container c runs as a host process: its command with
// $(VAR) expanded, environment, working directory, hostname, mounts, user
// (serverUID when it sets none), a private /tmp unless a volume is
// mounted there, its limits, and its stdin and tty for attach. secrets are the values taken from
// Secrets: a command built from one is named redacted in messages.
func hostSpec(pod *corev1.Pod, c *corev1.Container, id runtime.ID, env []string, ms []runtime.Mount, secrets []Redaction, serverUID int64) (runtime.Spec, error) {
	argv, err := Command(c, env)
	if err != nil {
		return runtime.Spec{}, err
	}
	var argv0Name string
	if r := Redact(argv[0], secrets); r != argv[0] {
		argv0Name = r
	}
	user, err := ContainerUser(pod, c, serverUID)
	if err != nil {
		return runtime.Spec{}, err
	}
	workDir := c.WorkingDir
	if workDir == "" {
		workDir = "/"
	}
	return runtime.Spec{
		ID: id, Argv: argv, Argv0Name: argv0Name, Env: env, WorkDir: workDir, Hostname: podHostname(pod), Mounts: ms, User: user,
		PrivateTmp: !mountsUnder(ms, "/tmp"),
		Resources:  limits(c),
		Stdin:      c.Stdin, StdinOnce: c.StdinOnce, TTY: c.TTY,
	}, nil
}

// ociImage is a container's image as prepare.go made it ready: the image,
// its unpacked root, and its /etc/passwd and /etc/group (nil when it has
// none), which resolve its USER.
type ociImage struct {
	image.Image
	Root          string
	Passwd, Group []byte
}

// ociSpec is how container c runs from its image with OCI runtime rt: the
// image's command, environment, working directory and user merged with
// the container's as the runtimes do, its mounts, and its security context.
func ociSpec(pod *corev1.Pod, c *corev1.Container, id runtime.ID, env []string, ms []runtime.Mount, img ociImage, rt runtime.OCIRuntime) (runtime.Spec, error) {
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
	user, err := ociUser(pod, c, img)
	if err != nil {
		return runtime.Spec{}, err
	}
	in := oci.Input{
		Args: argv, Env: oci.Env(imageEnv, podEnv), Cwd: cwd, Hostname: podHostname(pod), User: user,
	}
	for _, m := range ms {
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
	imageName, imageID := image.StatusNames(img.Image)
	in.Terminal = c.TTY
	return runtime.Spec{
		ID: id, OCI: &runtime.OCI{Runtime: rt, Spec: oci.Spec(in), Image: img.Root, ImageName: imageName, ImageID: imageID},
		Resources: limits(c),
		Stdin:     c.Stdin, StdinOnce: c.StdinOnce, TTY: c.TTY,
	}, nil
}

// limits are the container's memory and CPU limits.
func limits(c *corev1.Container) runtime.Resources {
	return runtime.Resources{MemoryBytes: c.Resources.Limits.Memory().Value(), CPUMillis: c.Resources.Limits.Cpu().MilliValue()}
}

// ociUser is runAsUser/runAsGroup when set, else the image's USER (as its
// /etc/passwd and /etc/group resolve it), with runAsNonRoot checked
// against the result as the kubelet does.
func ociUser(pod *corev1.Pod, c *corev1.Container, img ociImage) (oci.User, error) {
	imageUser, err := oci.ImageUser(img.Config.User, readerOf(img.Passwd), readerOf(img.Group))
	if err != nil {
		return oci.User{}, &ConfigError{Message: err.Error()}
	}
	u, err := ContainerUser(pod, c, int64(imageUser.UID))
	if err != nil {
		return oci.User{}, err
	}
	if u == nil {
		return imageUser, nil
	}
	out := oci.User{UID: uint32(u.UID), GID: uint32(u.GID)}
	if u.UID == int64(imageUser.UID) && !runAsGroupSet(pod, c) {
		out.GID = imageUser.GID
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

// mountsUnder tells whether a mount targets dir or a path below it.
func mountsUnder(ms []runtime.Mount, dir string) bool {
	for _, m := range ms {
		t := filepath.Clean(m.Target)
		if t == dir || strings.HasPrefix(t, dir+"/") {
			return true
		}
	}
	return false
}

// readerOf keeps a missing file (nil) from becoming a non-nil io.Reader.
func readerOf(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}
