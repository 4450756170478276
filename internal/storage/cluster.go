package storage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// AddMember adds a member that will listen for peers at peerURL to this
// member's cluster (etcd's own member add, through the clientv3 Cluster
// API) and returns the --initial-cluster the new member starts with. It
// is added as a learner, as k3s adds servers: it does not count in the
// quorum until it has caught up and RunPromoter promotes it, so a
// member added but not started (or still catching up) cannot stall the
// cluster, and etcd accepts the next member add at once.
func (e *Etcd) AddMember(ctx context.Context, name, peerURL string) (string, error) {
	c, err := e.client()
	if err != nil {
		return "", err
	}
	defer c.Close()
	// etcd refuses a member add until the leader has been connected to
	// every voting member for 5 s (its health interval): just after the
	// last join, or a member's restart, the add waits.
	var resp *clientv3.MemberAddResponse
	for {
		resp, err = c.MemberAddAsLearner(ctx, []string{peerURL})
		if err == nil {
			break
		}
		if !errors.Is(err, rpctypes.ErrUnhealthy) {
			return "", fmt.Errorf("add etcd member %s at %s: %w", name, peerURL, err)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("add etcd member %s at %s: %w (%w)", name, peerURL, err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	var parts []string
	for _, m := range resp.Members {
		n := m.Name
		if m.ID == resp.Member.ID {
			n = name
		}
		if n == "" {
			// Added, but not started yet: it has no name to list.
			continue
		}
		for _, u := range m.PeerURLs {
			parts = append(parts, n+"="+u)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ","), nil
}

// promoteLearners makes every learner that has caught up with the leader a
// voting member, and returns how many learners are left.
func promoteLearners(ctx context.Context, c *clientv3.Client) (int, error) {
	resp, err := c.MemberList(ctx)
	if err != nil {
		return 0, fmt.Errorf("list etcd members: %w", err)
	}
	left := 0
	for _, m := range resp.Members {
		if !m.IsLearner {
			continue
		}
		// Refused until the learner is in sync (and started): tried
		// again on the next pass.
		if _, err := c.MemberPromote(ctx, m.ID); err != nil {
			left++
		}
	}
	return left, nil
}

// RunPromoter promotes caught-up learners every period until ctx ends, on
// one client for all its passes.
func (e *Etcd) RunPromoter(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	var c *clientv3.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c == nil {
				var err error
				if c, err = e.client(); err != nil {
					continue // tried again on the next pass
				}
			}
			_, _ = promoteLearners(ctx, c)
		}
	}
}

// Members lists the cluster's members as name=peerURL (an unstarted one
// with its ID for a name; a learner marked " (learner)").
func (e *Etcd) Members(ctx context.Context) ([]string, error) {
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	resp, err := c.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list etcd members: %w", err)
	}
	var out []string
	for _, m := range resp.Members {
		n := m.Name
		if n == "" {
			n = fmt.Sprintf("%x", m.ID)
		}
		l := ""
		if m.IsLearner {
			l = " (learner)"
		}
		out = append(out, n+"="+strings.Join(m.PeerURLs, ";")+l)
	}
	sort.Strings(out)
	return out, nil
}

// client is a client of this member alone, on its unix socket.
func (e *Etcd) client() (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	return c, nil
}
