package controller

import (
	"strings"

	restclient "k8s.io/client-go/rest"
)

// QuietConfig is loopback for batchd's own controllers: the deprecation
// warning of v1 Endpoints (served since 1.33 with "v1 Endpoints is
// deprecated …") is not logged. The controllers keep v1 Endpoints as
// kube-controller-manager and kube-apiserver's bootstrap controller still do,
// and the garbage collector watches every resource; the warning, logged at
// each start and every 10 s, was about nothing a user did. Other warnings
// are logged as client-go logs them.
func QuietConfig(loopback *restclient.Config) *restclient.Config {
	cfg := restclient.CopyConfig(loopback)
	next := cfg.WarningHandler
	if next == nil {
		next = restclient.WarningLogger{}
	}
	cfg.WarningHandler = quietEndpoints{next: next}
	return cfg
}

type quietEndpoints struct{ next restclient.WarningHandler }

func (q quietEndpoints) HandleWarningHeader(code int, agent, text string) {
	if strings.HasPrefix(text, "v1 Endpoints is deprecated") {
		return
	}
	q.next.HandleWarningHeader(code, agent, text)
}
