package apiserver

import (
	"net/http/httptest"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
	apirequest "k8s.io/apiserver/pkg/endpoints/request"
)

func TestLongRunning(t *testing.T) {
	parse := apirequest.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}
	check := longRunning()
	for path, want := range map[string]bool{
		"/api/v1/namespaces/ns/pods/p/log?follow=true":      true,
		"/api/v1/namespaces/ns/pods/p/exec?command=sh":      true,
		"/api/v1/namespaces/ns/pods/p/attach":               true,
		"/api/v1/namespaces/ns/pods/p/portforward":          true,
		"/apis/batch/v1/jobs?watch=1":                       true,
		"/apis/batch/v1/namespaces/ns/jobs/j":               false,
		"/api/v1/namespaces/ns/pods":                        false,
		"/apis/batchd.dev/v1alpha1/namespaces/ns/jobruns/r": false,
	} {
		r := httptest.NewRequest("GET", path, nil)
		info, err := parse.NewRequestInfo(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := check(r, info); got != want {
			t.Errorf("long-running(%s) = %v, want %v", path, got, want)
		}
	}
}
