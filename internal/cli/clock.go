package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/batchd/batchd/internal/apiserver"
)

func (c *CLI) clockCommand() *cobra.Command {
	var cluster clusterFlags
	cmd := &cobra.Command{
		Use:   "clock [advance DURATION | set TIME]",
		Short: "Show the server's clock, or move a virtual one",
		Long: `Show the clock the server's controllers and node agent run on, or move it
forward when it is virtual (batchd server --clock virtual): CronJob slots,
deadlines, back-offs, TTLs and status times follow it, pods' processes run
in real time. Moving it is the admin's (system:masters) alone; viewers may
read it. It only moves forward.`,
		Example: `  batchd clock
  batchd clock advance 90m
  batchd clock set 2027-03-28T00:00:00+01:00`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return nil
			case len(args) == 2 && (args[0] == "advance" || args[0] == "set"):
				return nil
			}
			return fmt.Errorf("want no argument, advance DURATION or set TIME, not %q", args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			client, _, err := cluster.client()
			if err != nil {
				return err
			}
			var move *apiserver.ClockMove
			if len(args) == 2 {
				move = &apiserver.ClockMove{}
				if args[0] == "advance" {
					move.Advance = args[1]
				} else {
					move.Set = args[1]
				}
			}
			st, err := clockRequest(cmd.Context(), client, move)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, describeClockState(st))
			return nil
		},
	}
	cluster.add(cmd, false)
	_ = cmd.Flags().MarkHidden("namespace")
	return cmd
}

// clockRequest reads the server's clock, or moves it first.
func clockRequest(ctx context.Context, client kubernetes.Interface, move *apiserver.ClockMove) (apiserver.ClockState, error) {
	rest := client.CoreV1().RESTClient()
	req := rest.Get().AbsPath(apiserver.ClockPath)
	if move != nil {
		body, _ := json.Marshal(move)
		req = rest.Post().AbsPath(apiserver.ClockPath).SetHeader("Content-Type", "application/json").Body(body)
	}
	// Result.Error reads the API's Status (403's, 409's words); DoRaw's
	// error would not.
	res := req.Do(ctx)
	var st apiserver.ClockState
	if err := res.Error(); err != nil {
		return st, err
	}
	raw, err := res.Raw()
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("read the server's clock: %w", err)
	}
	return st, nil
}

func describeClockState(st apiserver.ClockState) string {
	now := st.Now.UTC().Format(time.RFC3339)
	switch {
	case st.Mode != "virtual":
		return "real clock: " + now
	case st.Rate == 0:
		return "virtual clock (frozen): " + now
	default:
		return fmt.Sprintf("virtual clock (%g× real time): %s", st.Rate, now)
	}
}
