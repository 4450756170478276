// Package event serves events.k8s.io/v1 events as a second view of the core/v1
// events, as upstream does: there is one stored Event (core/v1, in the same
// etcd keys); this package's codec converts it to and from events.k8s.io/v1 on
// the way in and out of storage, so an Event written through either API is
// seen through both.
package event
