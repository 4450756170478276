//go:build !nokubectl

package cli

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	// Before any of kubectl's packages translate a message: see its doc.
	_ "github.com/batchd/batchd/internal/cli/kubectllang"
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
// batchd of the default data dir (or $BATCHD_DATA_DIR), and when that fails
// because no server runs there, it says how to start one.
func (c *CLI) runKubectl(_ context.Context, args []string) int {
	flags := genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag().WithDiscoveryBurst(300).WithDiscoveryQPS(50.0)
	dataDir := ""
	if os.Getenv("KUBECONFIG") == "" {
		dataDir = server.DefaultDataDir()
		if d := os.Getenv("BATCHD_DATA_DIR"); d != "" {
			dataDir = d
		}
		path := server.KubeconfigPath(dataDir)
		flags.KubeConfig = &path
	}
	cmd := kubectlcmd.NewDefaultKubectlCommandWithArgs(kubectlcmd.KubectlOptions{
		PluginHandler: kubectlcmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
		Arguments:     append([]string{"kubectl"}, args...),
		ConfigFlags:   flags,
		IOStreams:     genericiooptions.IOStreams{In: c.In, Out: c.Out, ErrOut: c.Err},
	})
	hint := func() {
		if dataDir != "" && !namesServer(args) && !serverRunning(dataDir) {
			start := "batchd server"
			if dataDir != server.DefaultDataDir() {
				start += " --data-dir " + dataDir
			}
			fmt.Fprintf(c.Err, "no batchd server is running for data dir %s: start one with %q\n", dataDir, start)
		}
	}
	// kubectl ends the process itself on most errors (cmdutil.CheckErr):
	// as it does, plus the hint.
	cmdutil.BehaviorOnFatal(func(msg string, code int) {
		if msg != "" {
			if !strings.HasSuffix(msg, "\n") {
				msg += "\n"
			}
			fmt.Fprint(c.Err, msg)
		}
		if code != 0 {
			hint()
		}
		os.Exit(code)
	})
	defer cmdutil.DefaultBehaviorOnFatal()
	cmd.SetArgs(args)
	// As kubectl's main: component-base's runner adds the logging flags
	// (-v, --vmodule, …) and starts the logs once the flags are parsed.
	// kubectl prints its own errors and ends the process (above); what
	// reaches here is cobra's (an unknown flag or command), printed as
	// cobra prints it.
	if err := cli.RunNoErrOutput(cmd); err != nil {
		fmt.Fprintf(c.Err, "Error: %v\n", err)
		hint()
		return 1
	}
	return 0
}

// namesServer: the arguments choose the server themselves.
func namesServer(args []string) bool {
	for _, a := range args {
		if a == "--" {
			break
		}
		for _, f := range []string{"--kubeconfig", "--server", "-s", "--context", "--cluster"} {
			if a == f || strings.HasPrefix(a, f+"=") {
				return true
			}
		}
	}
	return false
}

// serverRunning reports whether the data dir's server runs: it holds the data
// dir's lock or, for a server of a batchd from before the lock, its
// kubeconfig's address answers.
func serverRunning(dataDir string) bool {
	if _, ok := server.LockHolder(dataDir); ok {
		return true
	}
	cfg, err := clientcmd.LoadFromFile(server.KubeconfigPath(dataDir))
	if err != nil {
		return false
	}
	cluster := cfg.Clusters["batchd"]
	if cluster == nil {
		return false
	}
	u, err := url.Parse(cluster.Server)
	if err != nil {
		return false
	}
	conn, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
