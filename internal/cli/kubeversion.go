package cli

import (
	"sync"
	_ "unsafe" // go:linkname

	"k8s.io/component-base/version"
)

// k8s.io/component-base/version is normally stamped with -ldflags -X at build
// time. A plain `go build` or `go run` leaves "v0.0.0-master+$Format:%H$",
// which the embedded kubectl cannot parse ("kubectl version" fails). batchd
// stamps it at start instead, so every build reports the Kubernetes version
// it embeds.

//go:linkname kubeGitVersion k8s.io/component-base/version.gitVersion
var kubeGitVersion string

//go:linkname kubeGitMajor k8s.io/component-base/version.gitMajor
var kubeGitMajor string

//go:linkname kubeGitMinor k8s.io/component-base/version.gitMinor
var kubeGitMinor string

//go:linkname kubeGitTreeState k8s.io/component-base/version.gitTreeState
var kubeGitTreeState string

var stampOnce sync.Once

// kubectlVersion is the k8s.io/kubectl release embedded.
const kubectlVersion = "v1.37.2"

func stampKubeVersion() {
	stampOnce.Do(func() {
		if kubeGitMajor != "" {
			return // stamped by -ldflags
		}
		kubeGitVersion, kubeGitMajor, kubeGitMinor, kubeGitTreeState = kubectlVersion, "1", "37", "clean"
		_ = version.SetDynamicVersion(kubectlVersion)
	})
}
