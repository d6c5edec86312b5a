package gcspipes_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/gcspipes"
)

// A job launched by Dagster with PipesGCSContextInjector and
// PipesGCSMessageReader: both the context and the messages go through GCS.
func Example() {
	ctx := context.Background()
	client, err := gcspipes.NewClientFromEnv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	err = pipes.Run(ctx, func(ctx context.Context, p *pipes.Context) error {
		p.Log().Info("hello from Go")
		return p.ReportAssetMaterialization(pipes.Materialization{
			Metadata: pipes.Metadata{"rows": pipes.Int(42)},
		})
	},
		pipes.WithContextLoader(gcspipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(gcspipes.MessageWriter{Client: client}),
	)
	if err != nil {
		log.Fatal(err)
	}
}

// Messages only through GCS (the context comes the default way, e.g. from
// Dagster's temp file), uploaded every 2 seconds instead of 10.
func ExampleMessageWriter() {
	ctx := context.Background()
	client, err := gcspipes.NewClientFromEnv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	p, err := pipes.Open(ctx, pipes.WithMessageWriter(gcspipes.MessageWriter{
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

// A client built by hand: a service-account key file, and a retry
// configuration of one's own.
func ExampleContextLoader() {
	ctx := context.Background()
	client, err := storage.NewClient(ctx, option.WithAuthCredentialsFile(option.ServiceAccount, "/secrets/sa.json"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	client.SetRetry(storage.WithMaxAttempts(5))
	data, err := gcspipes.ContextLoader{Client: client}.LoadContext(ctx,
		pipes.Params{"bucket": "dagster", "key": "abc/context.json"})
	if err != nil {
		log.Fatal(err)
	}
	log.Println(data.RunID)
}

// Point the job at an emulator through the environment, as for Dagster's
// google-cloud-storage client: STORAGE_EMULATOR_HOST=http://127.0.0.1:4443.
func ExampleNewClientFromEnv() {
	client, err := gcspipes.NewClientFromEnv(context.Background(), option.WithUserAgent("my-job/1.0"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	_ = gcspipes.MessageWriter{Client: client}
}

// A channel on a fixed bucket and prefix, outside of Dagster's params.
func ExampleNewChannel() {
	client, err := gcspipes.NewClientFromEnv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ch := gcspipes.NewChannel(client, "my-bucket", "runs/42", pipes.BlobStoreOptions{})
	_ = ch.WriteMessage(pipes.Message{Method: pipes.MethodLog, Params: []byte(`{"message":"hi","level":"INFO"}`)})
	if err := ch.Close(); err != nil { // uploads runs/42/1.json
		log.Fatal(err)
	}
}

// The names under which Dagster's PipesGCSMessageReader looks for chunks.
func ExampleChunkKey() {
	fmt.Println(gcspipes.ChunkKey("AbCdEfGhIjKlMnOpQrStUvWxYzAbCd", 1))
	fmt.Println(gcspipes.ChunkKey("", 12))
	// Output:
	// AbCdEfGhIjKlMnOpQrStUvWxYzAbCd/1.json
	// 12.json
}
