package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"

	"github.com/batchd/batchd/internal/server"
)

func (c *CLI) kubectlCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl",
		Short:              "Run the embedded kubectl against this machine's batchd",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := c.runKubectl(cmd.Context(), args); code != 0 {
				return ExitError{Code: code}
			}
			return nil
		},
	}
}

// runKubectl runs the embedded kubectl. Without KUBECONFIG it talks to the
// batchd of the default data dir (or $BATCHD_DATA_DIR).
func (c *CLI) runKubectl(_ context.Context, args []string) int {
	flags := genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag().WithDiscoveryBurst(300).WithDiscoveryQPS(50.0)
	if os.Getenv("KUBECONFIG") == "" {
		dir := server.DefaultDataDir()
		if d := os.Getenv("BATCHD_DATA_DIR"); d != "" {
			dir = d
		}
		path := server.KubeconfigPath(dir)
		flags.KubeConfig = &path
	}
	cmd := kubectlcmd.NewDefaultKubectlCommandWithArgs(kubectlcmd.KubectlOptions{
		PluginHandler: kubectlcmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
		Arguments:     append([]string{"kubectl"}, args...),
		ConfigFlags:   flags,
		IOStreams:     genericiooptions.IOStreams{In: c.In, Out: c.Out, ErrOut: c.Err},
	})
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		return 1
	}
	return 0
}
