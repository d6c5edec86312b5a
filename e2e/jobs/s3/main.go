// Command s3 is the e2e job of the S3 tests (e2e/s3_test.go): Dagster's
// PipesS3ContextInjector and PipesS3MessageReader (dagster-aws), on a moto
// server, exchange the Pipes traffic with it through s3pipes. Its flags and
// modes are those of e2e/internal/storejob, with the name s3.
//
// The S3 client comes from the environment (AWS_ENDPOINT_URL and the test
// credentials that the test passes to Dagster, which passes them on).
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/e2e/internal/storejob"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

func main() {
	storejob.Main("s3", fail, func(ctx context.Context) (storejob.Backend, error) {
		client, err := s3pipes.NewClientFromEnv(ctx)
		if err != nil {
			return storejob.Backend{}, err
		}
		return storejob.Backend{
			Loader: s3pipes.ContextLoader{Client: client},
			Writer: func(interval time.Duration) pipes.MessageWriter {
				return s3pipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: interval}}
			},
		}, nil
	})
}

type jobError struct{ code int }

func (e *jobError) Error() string { return fmt.Sprintf("s3 job error %d", e.code) }

// fail logs, sends a custom message, then fails with a wrapped error.
func fail(ctx context.Context, p *pipes.Context) error {
	p.Log().Info("failing over s3")
	if err := p.ReportCustomMessage("before failure"); err != nil {
		return err
	}
	return fmt.Errorf("s3 step failed: %w", pipes.WithStack(&jobError{code: 5}))
}
