package node

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The node says which runtime pods without runtimeClassName get, and lists
// its handlers in status.runtimeHandlers.
func TestNodeStatusNamesItsRuntimes(t *testing.T) {
	find := func(st corev1.NodeStatus) corev1.NodeCondition {
		for _, c := range st.Conditions {
			if c.Type == conditionRuntime {
				return c
			}
		}
		t.Fatalf("no %s condition in %+v", conditionRuntime, st.Conditions)
		return corev1.NodeCondition{}
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := Machine{Name: "n", Runtimes: Runtimes{OCI: "/usr/sbin/runc", OCIVersion: "runc version 1.1.15", Default: RuntimeOCI, Flag: "oci", Named: []string{"runc", "crun"}}}
	st := m.nodeStatus(now, nil)
	c := find(st)
	if c.Status != corev1.ConditionTrue || c.Reason != "OCIRuntimeFound" ||
		c.Message != `/usr/sbin/runc (runc version 1.1.15); pods without runtimeClassName run with "oci" (--default-runtime=oci); `+
			`oci pods get their own root file system and pid, mount, uts and ipc namespaces, but share the host network; runtimeClassName host runs a pod unisolated on this machine` {
		t.Errorf("with runc: %+v", c)
	}
	if len(st.RuntimeHandlers) != 4 || st.RuntimeHandlers[0].Name != "host" || st.RuntimeHandlers[1].Name != "oci" || st.RuntimeHandlers[3].Name != "crun" {
		t.Errorf("runtimeHandlers = %+v", st.RuntimeHandlers)
	}

	m.Runtimes.Default, m.Runtimes.Flag = RuntimeAuto, RuntimeAuto
	c = find(m.nodeStatus(now, st.Conditions))
	if c.Status != corev1.ConditionTrue || !strings.Contains(c.Message, `(runc version 1.1.15); pods without runtimeClassName run from their images with "oci" where the node can have them, `+
		`else as commands on this host with an ImageUnavailable event (--default-runtime=auto); oci pods get their own root file system`) {
		t.Errorf("auto with runc: %+v", c)
	}

	m.Runtimes = Runtimes{Default: RuntimeAuto, Flag: "auto"}
	later := m.nodeStatus(now.Add(time.Minute), st.Conditions)
	c = find(later)
	if c.Status != corev1.ConditionFalse || c.Reason != "NoOCIRuntime" || !strings.Contains(c.Message, `pods without runtimeClassName run as commands on this host, with an ImageUnavailable event (--default-runtime=auto); host pods are not isolated: `) {
		t.Errorf("without runc: %+v", c)
	}
	if !c.LastTransitionTime.Time.Equal(now.Add(time.Minute)) {
		t.Errorf("transition time %v, want the change's", c.LastTransitionTime)
	}
	if len(later.RuntimeHandlers) != 1 {
		t.Errorf("runtimeHandlers without runc = %+v", later.RuntimeHandlers)
	}
}
