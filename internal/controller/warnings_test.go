package controller

import (
	"testing"

	restclient "k8s.io/client-go/rest"
)

type keptWarnings []string

func (k *keptWarnings) HandleWarningHeader(_ int, _ string, text string) { *k = append(*k, text) }

func TestQuietConfigDropsOnlyTheEndpointsDeprecation(t *testing.T) {
	var kept keptWarnings
	cfg := QuietConfig(&restclient.Config{Host: "https://127.0.0.1:6443", WarningHandler: &kept})
	cfg.WarningHandler.HandleWarningHeader(299, "-", "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice")
	cfg.WarningHandler.HandleWarningHeader(299, "-", "batch/v1beta1 CronJob is deprecated")
	if len(kept) != 1 || kept[0] != "batch/v1beta1 CronJob is deprecated" {
		t.Errorf("kept %q", kept)
	}
	if QuietConfig(&restclient.Config{}).WarningHandler == nil {
		t.Error("no handler without one given")
	}
}
