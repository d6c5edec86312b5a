package s3pipes_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// Messages only through S3 (the context comes the default way, e.g. from
// Dagster's temp file), uploaded every 2 seconds instead of 10. (newFakeS3,
// in the package example, stands in for S3.)
func ExampleMessageWriter() {
	store := newFakeS3()
	defer store.Close()
	client := store.Client() // in a job: s3pipes.NewClientFromEnv(ctx)

	// Dagster's part: PipesS3MessageReader's params.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{"asset_keys": []string{"orders"}}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"bucket": "dagster", "key_prefix": "run-2"})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})

	p, err := pipes.New(context.Background(), bootstrap, pipes.WithMessageWriter(s3pipes.MessageWriter{
		Client: client,
		Options: pipes.BlobStoreOptions{
			Interval: 2 * time.Second,
			OnError:  func(err error, chunk int) { log.Printf("chunk %d not uploaded yet: %v", chunk, err) },
		},
	}))
	if err != nil {
		log.Fatal(err)
	}
	_ = p.ReportCustomMessage(map[string]any{"progress": 1.0})
	// Close uploads the last chunk; it fails if messages could not be
	// delivered.
	if err := p.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// PUT /dagster/run-2/1.json
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":{"progress":1.0}}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

// A client built by hand: any endpoint, credentials or addressing style
// (MinIO, LocalStack, a VPC endpoint…).
func ExampleContextLoader() {
	store := newFakeS3()
	defer store.Close()
	client := s3.New(s3.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(store.URL), // e.g. "https://minio.internal:9000"
		UsePathStyle: true,
		Credentials:  aws.AnonymousCredentials{}, // e.g. credentials.NewStaticCredentialsProvider(…)
	})
	// Dagster's part: PipesS3ContextInjector puts the context object.
	_, _ = client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("dagster"), Key: aws.String("abc/context.json"),
		Body: strings.NewReader(`{"asset_keys": ["orders"], "run_id": "abc", "extras": {"limit": 10}}`),
	})

	data, err := s3pipes.ContextLoader{Client: client}.LoadContext(context.Background(),
		pipes.Params{"bucket": "dagster", "key": "abc/context.json"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("run:", data.RunID, "extras:", data.Extras)
	// Output:
	// PUT /dagster/abc/context.json
	// {"asset_keys": ["orders"], "run_id": "abc", "extras": {"limit": 10}}
	// run: abc extras: map[limit:10]
}

// Point the job at an S3-compatible store through the environment, as for
// boto3: AWS_ENDPOINT_URL gives a path-style client on that endpoint.
func ExampleNewClientFromEnv() {
	// The job's environment (set here for the example).
	os.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
	defer os.Unsetenv("AWS_ENDPOINT_URL")

	client, err := s3pipes.NewClientFromEnv(context.Background(), func(o *s3.Options) {
		o.RetryMaxAttempts = 5 // more patient than the SDK's default of 3
	})
	if err != nil {
		log.Fatal(err)
	}
	o := client.Options()
	fmt.Println(aws.ToString(o.BaseEndpoint), "path-style:", o.UsePathStyle, "attempts:", o.RetryMaxAttempts)
	// Output:
	// http://127.0.0.1:9000 path-style: true attempts: 5
}

// A channel on a fixed bucket and prefix, outside of Dagster's params.
func ExampleNewChannel() {
	store := newFakeS3()
	defer store.Close()

	ch := s3pipes.NewChannel(store.Client(), "my-bucket", "runs/42", pipes.BlobStoreOptions{})
	_ = ch.WriteMessage(pipes.Message{Method: pipes.MethodLog, Params: []byte(`{"message":"hi","level":"INFO"}`)})
	if err := ch.Close(); err != nil { // uploads runs/42/1.json
		log.Fatal(err)
	}
	// Output:
	// PUT /my-bucket/runs/42/1.json
	// {"__dagster_pipes_version":"0.1","method":"log","params":{"message":"hi","level":"INFO"}}
}
