package apiserver

import (
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

func TestAuthorize(t *testing.T) {
	res := func(verb, group, resource string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{Verb: verb, APIGroup: group, Resource: resource, ResourceRequest: true, Namespace: "ns"}
	}
	path := func(p string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{Verb: "get", Path: p}
	}
	view, edit, masters, none := []string{GroupView, user.AllAuthenticated}, []string{GroupEdit, user.AllAuthenticated}, []string{user.SystemPrivilegedGroup, user.AllAuthenticated}, []string{user.AllAuthenticated}
	for _, c := range []struct {
		name   string
		groups []string
		attrs  authorizer.AttributesRecord
		allow  bool
	}{
		{"viewer lists jobs", view, res("list", "batch", "jobs"), true},
		{"viewer watches pods", view, res("watch", "", "pods"), true},
		{"viewer reads logs", view, authorizer.AttributesRecord{Verb: "get", Resource: "pods", Subresource: "log", ResourceRequest: true}, true},
		{"viewer creates a job", view, res("create", "batch", "jobs"), false},
		{"viewer deletes a pod", view, res("delete", "", "pods"), false},
		{"viewer reads a secret", view, res("get", "", "secrets"), false},
		{"viewer lists secrets", view, res("list", "", "secrets"), false},
		{"viewer reads metrics", view, path("/metrics"), true},
		{"viewer reads profiles", view, path("/debug/pprof/profile"), false},
		{"editor creates a job", edit, res("create", "batch", "jobs"), true},
		{"editor reads a secret", edit, res("get", "", "secrets"), true},
		{"editor reads metrics", edit, path("/metrics"), true},
		{"editor reads discovery", edit, path("/apis"), true},
		{"editor reads profiles", edit, path("/debug/pprof/"), false},
		{"editor takes a CPU profile", edit, path("/debug/pprof/profile"), false},
		{"editor sets the log level", edit, authorizer.AttributesRecord{Verb: "put", Path: "/debug/flags/v"}, false},
		{"editor posts to a path", edit, authorizer.AttributesRecord{Verb: "post", Path: "/apis"}, false},
		{"masters do anything", masters, res("deletecollection", "", "namespaces"), true},
		{"masters read profiles", masters, path("/debug/pprof/profile"), true},
		{"masters set the log level", masters, authorizer.AttributesRecord{Verb: "put", Path: "/debug/flags/v"}, true},
		{"a bare user reads discovery", none, path("/apis/batch/v1"), true},
		{"a bare user reads version", none, path("/version"), true},
		{"a bare user lists jobs", none, res("list", "batch", "jobs"), false},
		{"a bare user reads metrics", none, path("/metrics"), false},
		{"a bare user posts to a path", none, authorizer.AttributesRecord{Verb: "post", Path: "/api"}, false},
	} {
		d, _ := Authorize(c.groups, c.attrs)
		if (d == authorizer.DecisionAllow) != c.allow {
			t.Errorf("%s: decision %v, want allow=%v", c.name, d, c.allow)
		}
	}
}
