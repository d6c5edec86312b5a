// Command azure is the e2e job of the Azure Blob Storage tests
// (e2e/azure_test.go): Dagster's PipesAzureBlobStorageContextInjector and
// PipesAzureBlobStorageMessageReader (dagster-azure), on Azurite, exchange
// the Pipes traffic with it through azurepipes. Its flags and modes are
// those of e2e/internal/storejob, with the name azure, and one more:
//
//	-retry-delay  the SDK's first retry delay (0: the SDK's default), so
//	              that a test of failed uploads does not wait long
//
// The client comes from the environment (AZURE_STORAGE_CONNECTION_STRING,
// which the test passes to Dagster, which passes it on).
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/azurepipes"
	"github.com/dagster-pipes-go/pipes/e2e/internal/storejob"
)

func main() {
	retryDelay := flag.Duration("retry-delay", 0, "the SDK's first retry delay (0: its default)")
	storejob.Main("azure", fail, func(context.Context) (storejob.Backend, error) {
		var clientOpts *azblob.ClientOptions
		if *retryDelay > 0 {
			clientOpts = &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
				Retry: policy.RetryOptions{RetryDelay: *retryDelay, MaxRetryDelay: 4 * *retryDelay},
			}}
		}
		client, err := azurepipes.NewClientFromEnv(clientOpts)
		if err != nil {
			return storejob.Backend{}, err
		}
		return storejob.Backend{
			Loader: azurepipes.ContextLoader{Client: client},
			Writer: func(interval time.Duration) pipes.MessageWriter {
				return azurepipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: interval}}
			},
		}, nil
	})
}

type jobError struct{ code int }

func (e *jobError) Error() string { return fmt.Sprintf("azure job error %d", e.code) }

// fail logs, sends a custom message, then fails with a wrapped error.
func fail(ctx context.Context, p *pipes.Context) error {
	p.Log().Info("failing over azure")
	if err := p.ReportCustomMessage("before failure"); err != nil {
		return err
	}
	return fmt.Errorf("azure step failed: %w", pipes.WithStack(&jobError{code: 5}))
}
