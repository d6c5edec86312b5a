package s3pipes_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// A job launched by Dagster with PipesS3ContextInjector and
// PipesS3MessageReader: both the context and the messages go through a
// bucket. A few lines of net/http (newFakeS3, below) stand in for S3 here;
// the examples print what reaches it.
func Example() {
	store := newFakeS3()
	defer store.Close()
	client := store.Client() // in a job: s3pipes.NewClientFromEnv(ctx)
	ctx := context.Background()

	// Dagster's part: the context object in the bucket, and the two
	// bootstrap values (which a job finds in its environment).
	_, _ = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("dagster"), Key: aws.String("run-1/context.json"),
		Body: strings.NewReader(`{"asset_keys": ["orders"], "run_id": "run-1"}`),
	})
	contextParam, _ := pipes.EncodeParam(map[string]any{"bucket": "dagster", "key": "run-1/context.json"})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"bucket": "dagster", "key_prefix": "run-1/messages"})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})

	// The job.
	err := pipes.Run(ctx, func(ctx context.Context, p *pipes.Context) error {
		p.Log().Info("hello from Go", "run", p.RunID())
		return p.ReportAssetMaterialization(pipes.Materialization{
			Metadata: pipes.Metadata{"rows": pipes.Int(42)},
		})
	},
		pipes.WithContextLoader(s3pipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(s3pipes.MessageWriter{Client: client}),
		bootstrap,
	)
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// PUT /dagster/run-1/context.json
	// {"asset_keys": ["orders"], "run_id": "run-1"}
	// PUT /dagster/run-1/messages/1.json
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"log","params":{"message":"hello from Go run=run-1","level":"INFO"}}
	// {"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"orders","data_version":null,"metadata":{"rows":{"raw_value":42,"type":"int"}}}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

// fakeS3 is an in-memory stand-in for an S3-compatible store (path-style
// PUT and GET of objects) that prints every object put.
type fakeS3 struct {
	*httptest.Server
	mu      sync.Mutex
	objects map[string][]byte
}

func newFakeS3() *fakeS3 {
	f := &fakeS3{objects: map[string][]byte{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.Method {
		case http.MethodPut:
			body, _ := io.ReadAll(r.Body)
			f.objects[r.URL.Path] = body
			fmt.Printf("PUT %s\n%s\n", r.URL.Path, strings.TrimSuffix(string(body), "\n"))
		case http.MethodGet:
			body, ok := f.objects[r.URL.Path]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, "<Error><Code>NoSuchKey</Code></Error>")
				return
			}
			_, _ = w.Write(body)
		}
	}))
	return f
}

// Client returns an S3 client for the fake: an endpoint, path-style
// addressing, and no credentials (a real store needs them).
func (f *fakeS3) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(f.URL),
		UsePathStyle: true,
		Credentials:  aws.AnonymousCredentials{},
	})
}
