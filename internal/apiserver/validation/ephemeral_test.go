package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func debugPod(ecs ...corev1.EphemeralContainer) *corev1.PodSpec {
	return &corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
		Containers:          []corev1.Container{{Name: "c", Image: "busybox"}},
		InitContainers:      []corev1.Container{{Name: "init", Image: "busybox"}},
		Volumes:             []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		EphemeralContainers: ecs}
}

func ec(name, target string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox"}, TargetContainerName: target}
}

func errorStrings(errs field.ErrorList) string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return strings.Join(out, "\n")
}

// TestEphemeralContainers: upstream's rules for spec.ephemeralContainers,
// in its words and field paths.
func TestEphemeralContainers(t *testing.T) {
	probe := ec("probed", "")
	probe.ReadinessProbe = &corev1.Probe{}
	probe.Lifecycle = &corev1.Lifecycle{}
	probe.Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
	probe.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")}
	always := corev1.ContainerRestartPolicyAlways
	probe.RestartPolicy = &always
	sub := ec("sub", "")
	sub.VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/v", SubPathExpr: "$(X)"}}
	for _, tt := range []struct {
		name string
		spec *corev1.PodSpec
		want []string // "" = valid
	}{
		{"valid, with and without a target", debugPod(ec("a", "c"), ec("b", "init"), ec("d", "")), nil},
		{"name taken by a container", debugPod(ec("c", "")), []string{`spec.ephemeralContainers[0].name: Duplicate value: "c"`}},
		{"name taken by an init container", debugPod(ec("init", "")), []string{`spec.ephemeralContainers[0].name: Duplicate value: "init"`}},
		{"name taken by another ephemeral container", debugPod(ec("a", ""), ec("a", "")), []string{`spec.ephemeralContainers[1].name: Duplicate value: "a"`}},
		{"target is an ephemeral container", debugPod(ec("a", ""), ec("b", "a")), []string{`spec.ephemeralContainers[1].targetContainerName: Not found: "a"`}},
		{"no image", debugPod(corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "x"}}),
			[]string{`spec.ephemeralContainers[0].image: Required value`}},
		{"fields outside the allow list", debugPod(ec("ok", ""), probe), []string{
			`spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers[1].resources: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers[1].readinessProbe: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers[1].lifecycle: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers[1].restartPolicy: Forbidden: cannot be set for an Ephemeral Container`}},
		{"subPathExpr", debugPod(sub), []string{`spec.ephemeralContainers[0].volumeMounts[0].subPathExpr: Forbidden: cannot be set for an Ephemeral Container`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(PodSpec(tt.spec, PodOptions{}, field.NewPath("spec")))
			if len(tt.want) == 0 && got != "" {
				t.Fatalf("errors:\n%s", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("errors:\n%s\nlack %q", got, w)
				}
			}
		})
	}
}

// TestPodEphemeralContainersUpdate: ephemeral containers may only be added.
func TestPodEphemeralContainersUpdate(t *testing.T) {
	old := debugPod(ec("a", "c"))
	changed := ec("a", "c")
	changed.Image = "other"
	for _, tt := range []struct {
		name string
		spec *corev1.PodSpec
		want string
	}{
		{"added", debugPod(ec("b", ""), ec("a", "c")), ""},
		{"removed", debugPod(ec("b", "")), `spec.ephemeralContainers: Forbidden: existing ephemeral containers "a" may not be removed`},
		{"changed", debugPod(changed), `spec.ephemeralContainers: Forbidden: existing ephemeral containers "a" may not be changed`},
		{"an invalid one added", debugPod(ec("a", "c"), ec("c", "")), `spec.ephemeralContainers[1].name: Duplicate value: "c"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(PodEphemeralContainersUpdate(tt.spec, old))
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("errors:\n%s\nwant %q", got, tt.want)
			}
		})
	}
	if errs := NoEphemeralOnCreate(debugPod(ec("a", ""))); errorStrings(errs) != "spec.ephemeralContainers: Forbidden: cannot be set on create" {
		t.Errorf("on create: %v", errs)
	}
	tmpl := &corev1.PodTemplateSpec{Spec: *debugPod(ec("a", ""))}
	if got := errorStrings(PodTemplateSpec(tmpl, field.NewPath("spec", "template"))); !strings.Contains(got, "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template") {
		t.Errorf("in a template: %s", got)
	}
}
