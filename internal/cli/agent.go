package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/batchd/batchd/internal/server"
)

func (c *CLI) agentCommand() *cobra.Command {
	opts := server.NewAgentOptions()
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run pods of a batchd cluster on this machine (a node agent only, joined with the cluster's token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := opts.Config()
			if err != nil {
				return err
			}
			cfg.Log = c.Err
			return server.RunAgent(cmd.Context(), cfg, func(endpoint string) {
				fmt.Fprintf(c.Out, "batchd agent %s is running; it serves logs and streams at %s\n", cfg.NodeName, endpoint)
			})
		},
	}
	opts.AddFlags(cmd.Flags())
	addVerbosityFlags(cmd.Flags())
	return cmd
}
