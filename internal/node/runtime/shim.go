//go:build linux && cgo

package runtime

// The supervisor lives in supervise.c and runs from an ELF constructor before
// the Go runtime starts; this import links it into every binary that uses the
// runtime.

// #cgo CFLAGS: -O2 -Wall -Wno-format-truncation
import "C"

const haveSupervisor = true
