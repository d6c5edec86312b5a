// Command gcs is the e2e job of the GCS tests (e2e/gcs_test.go): Dagster's
// PipesGCSContextInjector and PipesGCSMessageReader (dagster-gcp), on
// fake-gcs-server, exchange the Pipes traffic with it through gcspipes.
// Its flags and modes are those of e2e/internal/storejob, with the name gcs.
//
// The storage client comes from the environment: STORAGE_EMULATOR_HOST,
// which the test passes to Dagster, which passes it on.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/e2e/internal/storejob"
	"github.com/dagster-pipes-go/pipes/gcspipes"
)

func main() {
	storejob.Main("gcs", fail, func(ctx context.Context) (storejob.Backend, error) {
		client, err := gcspipes.NewClientFromEnv(ctx)
		if err != nil {
			return storejob.Backend{}, err
		}
		return storejob.Backend{
			Loader: gcspipes.ContextLoader{Client: client},
			Writer: func(interval time.Duration) pipes.MessageWriter {
				return gcspipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: interval}}
			},
			Close: func() { _ = client.Close() },
		}, nil
	})
}

type jobError struct{ code int }

func (e *jobError) Error() string { return fmt.Sprintf("gcs job error %d", e.code) }

// fail logs, sends a custom message, then fails with a wrapped error.
func fail(ctx context.Context, p *pipes.Context) error {
	p.Log().Info("failing over gcs")
	if err := p.ReportCustomMessage("before failure"); err != nil {
		return err
	}
	return fmt.Errorf("gcs step failed: %w", pipes.WithStack(&jobError{code: 5}))
}
