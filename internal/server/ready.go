package server

import (
	"context"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	restclient "k8s.io/client-go/rest"
)

// waitReady polls /readyz until it answers ok or ctx ends. It uses a
// transport of its own whose connections it closes when it returns: one
// left open as the server stops would hold the stop for the server's
// shutdown timeout (a connection accepted just as the stop begins misses
// HTTP/2's GOAWAY).
func waitReady(ctx context.Context, cfg *restclient.Config) error {
	tlsConfig, err := restclient.TLSConfigFor(cfg)
	if err != nil {
		return err
	}
	transport := &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	return wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		// A poll under way when the server stops is let finish: cut
		// short, it would make the server log an error.
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, cfg.Host+"/readyz", nil)
		if err != nil {
			return false, err
		}
		req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}
