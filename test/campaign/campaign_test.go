//go:build campaign

// Package campaign is the long test tier: the kill -9 campaigns
// (hack/kill9-campaign.sh) in their short form against the real binary.
// They take minutes of real time (the CronJob mode waits for real minute
// slots), so the README's test command leaves them out and .ci/run runs them
// after it: go test -race -tags campaign ./test/campaign/
package campaign

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/batchd/batchd/internal/serverproc"
)

var batchd string // path of the built binary

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "batchd-campaign-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if batchd, err = serverproc.TestBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// TestKill9Campaign runs the kill -9 campaign (hack/kill9-campaign.sh) in its
// short form against the real binary, for a NonIndexed and an Indexed Job:
// 3 SIGKILLs of the server while 100 completions (parallelism 20, pods of
// 0-2 s, about one in ten failing) run, then exact counts, no pod left
// unfinished or tracked, and no process left once the Job is deleted. The
// full campaign is the same script with its defaults (README).
func TestKill9Campaign(t *testing.T) {
	t.Parallel()
	script := filepath.Join("..", "..", "hack", "kill9-campaign.sh")
	for _, mode := range []string{"NonIndexed", "Indexed"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command("bash", script, "-b", batchd, "-k", "3", "-c", "100", "-p", "20", "-m", mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("campaign: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Logf("| mode | kills | completions | succeeded | duplicates | failed/failed pods | strays | time |\n%s", lines[len(lines)-1])
		})
	}
}

// TestKill9CampaignCronJob runs the campaign's CronJob mode in its short
// form: a CronJob at "* * * * *" while the server is SIGKILLed 3 times (the
// first downtime across two slots), then, slot by slot, a Job for every slot
// the server was up for, exactly one catch-up Job per downtime (for its most
// recent missed slot), none for the earlier missed slots, never two Jobs for
// one slot, and no process left. It takes real minutes.
func TestKill9CampaignCronJob(t *testing.T) {
	t.Parallel()
	script := filepath.Join("..", "..", "hack", "kill9-campaign.sh")
	out, err := exec.Command("bash", script, "-b", batchd, "-k", "3", "-m", "CronJob").CombinedOutput()
	if err != nil {
		t.Fatalf("campaign: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("| mode | kills | slots | Jobs | slots that needed a Job | missed slots rightly skipped | duplicates | strays | time |\n%s", lines[len(lines)-1])
}

// TestKill9CampaignCluster runs the campaign against a cluster of three
// servers on 127.0.0.1-3 (hack/kill9-campaign.sh -s 3), SIGKILLing a random
// one 3 times, the leader among them as it comes: an Indexed Job of 100
// completions with the same exact counts, and a CronJob at "* * * * *" that
// gets exactly one Job, completed by one pod, for every slot across the
// leader failovers.
func TestKill9CampaignCluster(t *testing.T) {
	t.Parallel()
	script := filepath.Join("..", "..", "hack", "kill9-campaign.sh")
	for _, args := range [][]string{{"-c", "100", "-p", "20", "-m", "Indexed"}, {"-m", "CronJob"}} {
		t.Run(args[len(args)-1], func(t *testing.T) {
			cmd := exec.Command("bash", append([]string{script, "-b", batchd, "-k", "3", "-s", "3"}, args...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("campaign: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Logf("%s", lines[len(lines)-1])
		})
	}
}
