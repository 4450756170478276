//go:build !linux || !cgo

package runtime

// Without cgo the supervisor is not linked in and containers cannot run.
const haveSupervisor = false
