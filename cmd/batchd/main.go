// Command batchd runs Kubernetes batch/v1 Jobs and CronJobs on one machine.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/batchd/batchd/internal/apiserver"
	"github.com/batchd/batchd/internal/cli"
)

func main() {
	apiserver.LogClientHangupsAtInfo()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.New(os.Stdin, os.Stdout, os.Stderr).Run(ctx, os.Args)
	stop()
	os.Exit(code)
}
