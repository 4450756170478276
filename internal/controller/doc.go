// Package controller is the one queue loop every batchd controller runs on: a
// rate-limited work queue of keys, a Sync function that returns when to look
// again, and error backoff. It is the only place that logs sync errors.
package controller
