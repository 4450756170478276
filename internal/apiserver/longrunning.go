package apiserver

import (
	"k8s.io/apimachinery/pkg/util/sets"
	apirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
)

// longRunning tells the request timeout (60 s) which requests it must not
// cut: watches and the streaming subresources, as kube-apiserver's own
// check. Without it `kubectl logs -f` (and the web view's live log) ended
// after a minute with a stream error.
func longRunning() apirequest.LongRunningRequestCheck {
	return genericfilters.BasicLongRunningRequestCheck(
		sets.NewString("watch", "proxy"),
		sets.NewString("attach", "exec", "proxy", "log", "portforward"),
	)
}
