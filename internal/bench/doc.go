// Package bench measures batchd the way BENCHMARKS.md reports it: each figure
// comes from a real `batchd server` child process (so RSS is the server's own),
// repeated and summarised by the median.
package bench
