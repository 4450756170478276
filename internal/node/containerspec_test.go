package node

import (
	"errors"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node/runtime"
)

// A host container's spec: its command with $(VAR) expanded against its
// environment, "/" as working directory, its pod's hostname, a private
// /tmp unless a volume is mounted there, its user and its limits; a
// command taken from a Secret is named redacted.
func TestHostSpec(t *testing.T) {
	pod := testPod(corev1.RestartPolicyNever, "c")
	c := &pod.Spec.Containers[0]
	c.Command, c.Args = []string{"$(TOOL)"}, []string{"--name=$(NAME)", "$$(NAME)"}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("500m")}
	uid := int64(1000)
	c.SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
	id := runtime.ID{Pod: "uid", Container: "c"}
	env := []string{"TOOL=/opt/s3cret-tool", "NAME=x"}
	secrets := []Redaction{{Value: "/opt/s3cret-tool", Secret: "tools", Key: "path"}}
	s, err := hostSpec(pod, c, id, env, []runtime.Mount{{Source: "/v", Target: "/data"}}, secrets, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Argv, []string{"/opt/s3cret-tool", "--name=x", "$(NAME)"}) || s.Argv0Name != "<redacted: from secret tools key path>" {
		t.Errorf("argv %q named %q", s.Argv, s.Argv0Name)
	}
	if s.WorkDir != "/" || s.Hostname != "p" || !s.PrivateTmp || s.User == nil || s.User.UID != 1000 || s.ID != id {
		t.Errorf("spec %+v", s)
	}
	if s.Resources.MemoryBytes != 64<<20 || s.Resources.CPUMillis != 500 {
		t.Errorf("resources %+v", s.Resources)
	}
	if s.Stdin || s.StdinOnce || s.TTY {
		t.Errorf("stdin/tty not asked for: %+v", s)
	}
	s, _ = hostSpec(pod, c, id, env, []runtime.Mount{{Source: "/v", Target: "/tmp/"}}, nil, 0)
	if s.PrivateTmp || s.Argv0Name != "" {
		t.Errorf("with a volume at /tmp: %+v", s)
	}
	// kubectl run -i -t: stdin kept for attach, closed after the first session, a terminal.
	c.Stdin, c.StdinOnce, c.TTY = true, true, true
	if s, _ = hostSpec(pod, c, id, env, nil, nil, 0); !s.Stdin || !s.StdinOnce || !s.TTY {
		t.Errorf("stdin/tty asked for: %+v", s)
	}
	c.Command, c.Args = nil, nil
	var ce *ConfigError
	if _, err := hostSpec(pod, c, id, env, nil, nil, 0); !errors.As(err, &ce) {
		t.Errorf("no command: %v", err)
	}
}

// An OCI container's spec: the image's ENTRYPOINT with the container's
// args, the image's PATH (the host runtime's default PATH and HOME not
// passed), the image's working directory and USER as its passwd resolves
// it, the container's mounts.
func TestOCISpec(t *testing.T) {
	pod := testPod(corev1.RestartPolicyNever, "c")
	c := &pod.Spec.Containers[0]
	c.Command, c.Args = nil, []string{"--port=$(PORT)"}
	img := ociImage{
		Image: image.Image{Ref: "example/app:1", Config: v1.Config{Entrypoint: []string{"/app"}, Cmd: []string{"--default"},
			Env: []string{"PATH=/bin", "LANG=C"}, WorkingDir: "/srv", User: "app"}},
		Root:   "/images/app",
		Passwd: []byte("root:x:0:0::/root:/bin/sh\napp:x:100:101::/srv:/bin/sh\n"),
	}
	env := []string{"PATH=" + defaultPath, "HOME=/root", "PORT=8080", "HOSTNAME=p"}
	rt := runtime.OCIRuntime{Path: "/usr/sbin/runc", Kind: runtime.Runc}
	s, err := ociSpec(pod, c, runtime.ID{Pod: "uid", Container: "c"}, env, []runtime.Mount{{Source: "/v", Target: "/data", ReadOnly: true}}, img, rt)
	if err != nil {
		t.Fatal(err)
	}
	p := s.OCI.Spec.Process
	if !slices.Equal(p.Args, []string{"/app", "--port=8080"}) || p.Cwd != "/srv" || p.User.UID != 100 || p.User.GID != 101 {
		t.Errorf("process %+v", p)
	}
	if !slices.Contains(p.Env, "PATH=/bin") || slices.Contains(p.Env, "HOME=/root") || !slices.Contains(p.Env, "LANG=C") || !slices.Contains(p.Env, "PORT=8080") {
		t.Errorf("env %q", p.Env)
	}
	if s.OCI.Runtime != rt || s.OCI.Image != "/images/app" || s.Argv != nil {
		t.Errorf("oci %+v", s.OCI)
	}
	found := false
	for _, m := range s.OCI.Spec.Mounts {
		if m.Destination == "/data" && m.Source == "/v" && slices.Contains(m.Options, "ro") {
			found = true
		}
	}
	if !found {
		t.Errorf("mounts %+v", s.OCI.Spec.Mounts)
	}

	nonRoot := true
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot}
	img.Config.User = ""
	if _, err := ociSpec(pod, c, runtime.ID{}, env, nil, img, rt); err == nil || !strings.Contains(err.Error(), "runAsNonRoot and image will run as root") {
		t.Errorf("root image with runAsNonRoot: %v", err)
	}
	img.Config.Entrypoint, img.Config.Cmd, c.Args = nil, nil, nil
	var ce *ConfigError
	if _, err := ociSpec(pod, c, runtime.ID{}, env, nil, img, rt); !errors.As(err, &ce) || !strings.Contains(ce.Message, "no command specified") {
		t.Errorf("no command: %v", err)
	}
}
