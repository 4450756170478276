package server

import (
	"context"
	"errors"
	"sync"
)

// Running is a server started by Start, serving until Stop: the one way to
// run batchd inside another program (tests, `batchd run`'s ephemeral
// server), as httptest.NewServer is for an http.Handler.
type Running struct {
	// Ready says where it serves and how to reach it.
	Ready

	cancel context.CancelFunc
	done   chan error

	stopOnce sync.Once
	stopErr  error
}

// Start runs a server with cfg and returns once it is ready (its /readyz
// answers ok). ctx bounds the start only: once ready, the server runs until
// Stop, whatever becomes of ctx. If the server exits before it is ready, Start
// returns its error; if ctx ends first, Start stops it and returns ctx's
// error.
func Start(ctx context.Context, cfg Config) (*Running, error) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Running{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan Ready, 1)
	go func() { r.done <- Run(sctx, cfg, func(rd Ready) { ready <- rd }) }()
	select {
	case rd := <-ready:
		r.Ready = rd
		return r, nil
	case err := <-r.done:
		cancel()
		if err == nil {
			err = errors.New("server stopped before it was ready")
		}
		return nil, err
	case <-ctx.Done():
		return nil, errors.Join(ctx.Err(), r.Stop())
	}
}

// Stop stops the server and waits until everything it started has stopped.
// A clean stop returns nil; later calls return what the first did.
func (r *Running) Stop() error {
	r.stopOnce.Do(func() {
		r.cancel()
		r.stopErr = <-r.done
		if errors.Is(r.stopErr, context.Canceled) {
			r.stopErr = nil
		}
	})
	return r.stopErr
}
