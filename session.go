package pipes

import (
	"context"
	"errors"
	"fmt"
)

// Run calls job with p and then closes p, as the package-level [Run] does
// for the process's Context: if job returns an error or panics, the closed
// message carries it (see [NewException]) and Run returns it, a panic as a
// [*PanicError]. When job returns nil although ctx was cancelled, the work
// may be incomplete and Run reports that as the error. The error returned
// is job's own (not wrapped) unless closing failed too. A job that calls
// runtime.Goexit (as t.Fatal does) is reported as failed, and the goroutine
// then ends without Run returning.
//
// It is meant for a Context made by [New], one per session, when sessions
// overlap in time (see New); it installs no signal handlers. Calling it on
// a closed Context still runs job, whose reports then fail with
// [ErrClosed].
func (p *Context) Run(ctx context.Context, job func(ctx context.Context, p *Context) error) error {
	returned := false
	defer func() {
		if !returned {
			// The job called runtime.Goexit: close as failed (see Run).
			_ = p.closeWith(exceptionAt(errGoexit, 0))
		}
	}()
	jobErr := runJob(ctx, p, job)
	returned = true
	if jobErr == nil && ctx.Err() != nil {
		jobErr = fmt.Errorf("pipes: job interrupted: %w", context.Cause(ctx))
	}
	closeErr := p.closeWith(exceptionAt(jobErr, 0))
	if closeErr == nil {
		return jobErr
	}
	return errors.Join(jobErr, closeErr)
}
