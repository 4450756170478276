package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/batchd/batchd/internal/server"
)

func (c *CLI) serverCommand() *cobra.Command {
	opts := server.NewOptions()
	if dir := os.Getenv("BATCHD_DATA_DIR"); dir != "" {
		opts.DataDir = dir
	}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Serve the Kubernetes batch API and run Jobs on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := opts.Config()
			if err != nil {
				return err
			}
			cfg.Log = c.Err
			if !cfg.BindAddress.IsLoopback() {
				fmt.Fprintf(c.Err, "warning: the API listens on %s, reachable from other hosts; only holders of the admin credentials can use it\n", cfg.BindAddress)
			}
			return server.Run(cmd.Context(), cfg, func(r server.Ready) {
				fmt.Fprintf(c.Out, "batchd is ready; export KUBECONFIG=%s\n", r.Kubeconfig)
			})
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}
