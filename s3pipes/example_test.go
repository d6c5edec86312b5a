package s3pipes_test

import (
	"context"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// A job launched by Dagster with PipesS3ContextInjector and
// PipesS3MessageReader: both the context and the messages go through S3.
func Example() {
	ctx := context.Background()
	client, err := s3pipes.NewClientFromEnv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	err = pipes.Run(ctx, func(ctx context.Context, p *pipes.Context) error {
		p.Log().Info("hello from Go")
		return p.ReportAssetMaterialization(pipes.Materialization{
			Metadata: pipes.Metadata{"rows": pipes.Int(42)},
		})
	},
		pipes.WithContextLoader(s3pipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(s3pipes.MessageWriter{Client: client}),
	)
	if err != nil {
		log.Fatal(err)
	}
}

// Messages only through S3 (the context comes the default way, e.g. from
// Dagster's temp file), uploaded every 2 seconds instead of 10.
func ExampleMessageWriter() {
	ctx := context.Background()
	client, err := s3pipes.NewClientFromEnv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	p, err := pipes.Open(ctx, pipes.WithMessageWriter(s3pipes.MessageWriter{
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

// A client built by hand: any endpoint, credentials or addressing style.
func ExampleContextLoader() {
	client := s3.New(s3.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String("https://minio.internal:9000"),
		UsePathStyle: true,
	})
	data, err := s3pipes.ContextLoader{Client: client}.LoadContext(context.Background(),
		pipes.Params{"bucket": "dagster", "key": "abc/context.json"})
	if err != nil {
		log.Fatal(err)
	}
	log.Println(data.RunID)
}

// Point the job at an S3-compatible store through the environment, as for
// boto3: AWS_ENDPOINT_URL=http://127.0.0.1:9000 gives a path-style client.
func ExampleNewClientFromEnv() {
	client, err := s3pipes.NewClientFromEnv(context.Background(), func(o *s3.Options) {
		o.RetryMaxAttempts = 5 // more patient than the SDK's default of 3
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = s3pipes.MessageWriter{Client: client}
}

// A channel on a fixed bucket and prefix, outside of Dagster's params.
func ExampleNewChannel() {
	client, err := s3pipes.NewClientFromEnv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	ch := s3pipes.NewChannel(client, "my-bucket", "runs/42", pipes.BlobStoreOptions{})
	_ = ch.WriteMessage(pipes.Message{Method: pipes.MethodLog, Params: []byte(`{"message":"hi","level":"INFO"}`)})
	if err := ch.Close(); err != nil { // uploads runs/42/1.json
		log.Fatal(err)
	}
}
