// Package controller is the one queue loop every batchd controller runs on: a
// rate-limited work queue of keys, a Sync function that returns when to look
// again, and error backoff. It is the only place that logs sync errors.
//
// Its subpackages are the controllers, each built the same way:
// New(Config) (*Controller, error), where Config holds the dependencies
// (clients, informer factory, clock) and a nil optional one (the clock) is
// defaulted, and Run(ctx) once the informers have synced.
package controller
