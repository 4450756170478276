package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/batchd/batchd/internal/apiserver"
)

// stampedVersion is set by a release build (hack/build.sh:
// -ldflags "-X github.com/batchd/batchd/internal/cli.stampedVersion=v1.2.3").
// It is the only package-level variable of the CLI: the linker can set
// nothing else.
var stampedVersion string

func (c *CLI) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the batchd version and the Kubernetes API version it serves",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			info, _ := debug.ReadBuildInfo()
			fmt.Fprintf(c.Out, "batchd %s\nKubernetes API %s\n", buildVersion(stampedVersion, info), apiserver.KubernetesVersion)
		},
	}
}

// buildVersion is the version a build reports: the stamped one of a release
// build, the module version of `go install …@version`, else a Go
// pseudo-version (v0.0.0-<commit time>-<commit>) from the VCS information
// `go build` and `go install` record in a clone, "+dirty" when the tree had
// changes, and "(devel)" only when there is none (`go run`).
func buildVersion(stamped string, info *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if info == nil {
		return "(unknown)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "(devel)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	stamp := "00000000000000"
	if t, err := time.Parse(time.RFC3339, at); err == nil {
		stamp = t.UTC().Format("20060102150405")
	}
	v := strings.Join([]string{"v0.0.0", stamp, rev}, "-")
	if dirty {
		v += "+dirty"
	}
	return v
}
