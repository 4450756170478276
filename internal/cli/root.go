package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"
)

// CLI holds the standard streams the commands use.
type CLI struct {
	In       io.Reader
	Out, Err io.Writer
}

// New returns the command line bound to the given streams.
func New(in io.Reader, out, errOut io.Writer) *CLI { return &CLI{In: in, Out: out, Err: errOut} }

// ExitError carries a command's exit code.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Run executes args (args[0] is the program name) and returns the exit code.
func (c *CLI) Run(ctx context.Context, args []string) int {
	stampKubeVersion()
	if len(args) > 0 && filepath.Base(args[0]) == "kubectl" {
		return c.runKubectl(ctx, args[1:])
	}
	root := c.rootCommand()
	root.SetArgs(args[1:])
	err := root.ExecuteContext(ctx)
	var exit ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.Code
	default:
		fmt.Fprintln(c.Err, "Error:", err)
		return 1
	}
}

func (c *CLI) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "batchd",
		Short:         "Run Kubernetes batch/v1 Jobs and CronJobs on one machine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(c.In)
	root.SetOut(c.Out)
	root.SetErr(c.Err)
	root.AddCommand(c.serverCommand(), c.agentCommand(), c.runCommand(), c.kubectlCommand(), c.versionCommand(), c.benchCommand(), c.imageCommand(), c.cronCommand(), c.logsCommand(), c.clockCommand(), c.uiCommand())
	return root
}
