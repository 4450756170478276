//go:build nokubectl

package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// Built with -tags nokubectl: no embedded kubectl (k8s.io/kubectl and
// kustomize: 39 of the 132 MB of hack/build.sh's binary); any kubectl works
// against the server with its data dir's kubeconfig.
var errNoKubectl = errors.New("this batchd was built without kubectl (-tags nokubectl): use a kubectl of your own with KUBECONFIG=<data-dir>/kubeconfig")

func (c *CLI) kubectlCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl",
		Short:              "Not in this build (-tags nokubectl): use your own kubectl",
		DisableFlagParsing: true,
		RunE:               func(*cobra.Command, []string) error { return errNoKubectl },
	}
}

func (c *CLI) runKubectl(context.Context, []string) int {
	fmt.Fprintln(c.Err, "Error:", errNoKubectl)
	return 1
}
