package azurepipes_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/azurepipes"
)

// A job launched by Dagster with PipesAzureBlobStorageContextInjector and
// PipesAzureBlobStorageMessageReader: both the context and the messages go
// through a container. The client comes from the environment
// (AZURE_STORAGE_CONNECTION_STRING, or the default credential on
// AZURE_STORAGE_ACCOUNT_URL).
func Example() {
	client, err := azurepipes.NewClientFromEnv(nil)
	if err != nil {
		log.Fatal(err)
	}
	err = pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		p.Log().Info("hello from Go")
		return p.ReportAssetMaterialization(pipes.Materialization{
			Metadata: pipes.Metadata{"rows": pipes.Int(42)},
		})
	},
		pipes.WithContextLoader(azurepipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(azurepipes.MessageWriter{Client: client}),
	)
	if err != nil {
		log.Fatal(err)
	}
}

// Messages only through Azure Blob Storage (the context comes the default
// way), uploaded every 2 seconds instead of 10.
func ExampleMessageWriter() {
	client, err := azurepipes.NewClientWithDefaultCredential("https://myaccount.blob.core.windows.net/", nil)
	if err != nil {
		log.Fatal(err)
	}
	p, err := pipes.Open(context.Background(), pipes.WithMessageWriter(azurepipes.MessageWriter{
		Client: client,
		Options: pipes.BlobStoreOptions{
			Interval: 2 * time.Second,
			OnError:  func(err error, chunk int) { log.Printf("chunk %d not uploaded yet: %v", chunk, err) },
		},
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		// Close uploads the last chunk; it fails if messages could not be
		// delivered.
		if err := p.Close(); err != nil {
			log.Fatal(err)
		}
	}()
	_ = p.ReportCustomMessage(map[string]any{"progress": 1.0})
}

// A client built by hand, with any azcore.TokenCredential (here a managed
// identity) and the SDK's options.
func ExampleContextLoader() {
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		log.Fatal(err)
	}
	client, err := azblob.NewClient("https://myaccount.blob.core.windows.net/", cred, nil)
	if err != nil {
		log.Fatal(err)
	}
	data, err := azurepipes.ContextLoader{Client: client}.LoadContext(context.Background(),
		pipes.Params{"bucket": "dagster", "key": "abc/context.json"})
	if err != nil {
		log.Fatal(err)
	}
	log.Println(data.RunID)
}

// Azurite, the local emulator: a connection string with an explicit
// BlobEndpoint reaches it on any port ("UseDevelopmentStorage=true" means
// port 10000).
func ExampleNewClientFromConnectionString() {
	client, err := azurepipes.NewClientFromConnectionString(
		"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"+
			"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"+
			"BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.URL())
	// Output: http://127.0.0.1:10000/devstoreaccount1/
}

// The default credential chain (environment, workload identity, managed
// identity, Azure CLI, …) on an account's blob service; no token is asked
// for until the first request.
func ExampleNewClientWithDefaultCredential() {
	client, err := azurepipes.NewClientWithDefaultCredential("https://myaccount.blob.core.windows.net/", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.URL())
	// Output: https://myaccount.blob.core.windows.net/
}

// A channel on a fixed container and prefix, outside of Dagster's params.
func ExampleNewChannel() {
	client, err := azurepipes.NewClientFromEnv(nil)
	if err != nil {
		log.Fatal(err)
	}
	ch := azurepipes.NewChannel(client, "my-container", "runs/42", pipes.BlobStoreOptions{})
	_ = ch.WriteMessage(pipes.Message{Method: pipes.MethodLog, Params: []byte(`{"message":"hi","level":"INFO"}`)})
	if err := ch.Close(); err != nil { // uploads runs/42/1.json
		log.Fatal(err)
	}
}
