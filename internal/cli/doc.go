// Package cli is batchd's command line: `batchd server`, `batchd kubectl` (the
// embedded kubectl, also run when the binary is invoked as "kubectl") and
// `batchd version`. Commands only parse flags and call into the packages that
// do the work.
package cli
