package cli

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
)

func (c *CLI) uiCommand() *cobra.Command {
	var (
		cluster clusterFlags
		open    bool
	)
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Print (or open) a one-time link that signs a browser in to the web view as you",
		Long: `Ask the API server for a one-time login code bound to your identity (the
kubeconfig's user, as ` + "`batchd kubectl`" + ` finds it) and print the web view's link:
https://HOST:PORT/ui/login?code=…  The code works once, within 60 seconds; the
page exchanges it for a session cookie (HttpOnly, Secure, SameSite=Strict) that
lasts 8 hours or until the server restarts. The view only reads, and only what
your identity may read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := cluster.restConfig()
			if err != nil {
				return err
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			body, err := client.Discovery().RESTClient().Post().AbsPath("/ui/api/login-code").DoRaw(cmd.Context())
			if err != nil {
				return fmt.Errorf("get a login code from %s: %w", cfg.Host, err)
			}
			var answer struct {
				Path string `json:"path"`
				User string `json:"user"`
			}
			if err := json.Unmarshal(body, &answer); err != nil || answer.Path == "" {
				return fmt.Errorf("get a login code from %s: unexpected answer %q", cfg.Host, body)
			}
			url := strings.TrimSuffix(cfg.Host, "/") + answer.Path
			fmt.Fprintln(c.Out, url)
			fmt.Fprintf(c.Err, "Signs in as %s; works once, within 60 seconds. The browser will warn about the certificate unless it trusts the server's CA (<data-dir>/pki/ca.crt).\n", answer.User)
			if open {
				if err := exec.CommandContext(cmd.Context(), "xdg-open", url).Start(); err != nil {
					return fmt.Errorf("open the link with xdg-open: %w (open it yourself)", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&open, "open", false, "Open the link in the default browser (xdg-open).")
	cluster.addConnection(cmd)
	return cmd
}
