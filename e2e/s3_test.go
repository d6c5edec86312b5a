package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/moto"
)

// The S3 tests: Dagster's PipesS3ContextInjector and PipesS3MessageReader
// (dagster-aws) on a moto S3 server, PipesSubprocessClient launching the Go
// job e2e/jobs/s3, which uses s3pipes. The probe side is
// e2e/probe/s3ext.py. Dagster's reader polls every second and the job
// uploads every 200 ms, so that each run takes a few seconds.

var s3BucketSeq atomic.Int64

// batches is the number of upload intervals over which the report mode
// spreads its custom messages (see e2e/jobs/s3).
const batches = 4

// chunkKeyRE matches the key of a message chunk under the 30-letter prefix
// that Dagster's S3 reader chose.
var chunkKeyRE = regexp.MustCompile(`^[A-Za-z]{30}/[1-9][0-9]*\.json$`)

// newS3Client returns an S3 client for the moto server at endpoint.
func newS3Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       moto.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(moto.AccessKeyID, moto.SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
	})
}

// s3Keys lists the objects left in bucket after a run.
func s3Keys(t *testing.T, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := newS3Client(moto.Shared(t).Endpoint).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// s3Scenario returns a scenario of the s3 job with Dagster's given injector
// and reader ("s3…" for dagster-aws's, else the probe's), on a fresh bucket
// of the shared moto server. The job's side of each channel follows
// Dagster's.
func s3Scenario(t *testing.T, injector, reader string, args ...string) Scenario {
	t.Helper()
	requireDagster(t) // skip before starting moto when the e2e tests are off
	srv := moto.Shared(t)
	bucket := fmt.Sprintf("e2e-s3-%d", s3BucketSeq.Add(1))
	srv.CreateBucket(t, bucket)

	env := map[string]string{
		"PIPES_E2E_S3_BUCKET":   bucket,
		"PIPES_E2E_S3_INTERVAL": "1",
	}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return storeScenario("s3", injector, reader, env, args...)
}

// Context and messages through S3, and the mixed pairs: Dagster's env and
// temp-file injectors with S3 messages, and the S3 injector with Dagster's
// default temp-file message reader.
func TestS3(t *testing.T) {
	for _, tc := range []struct{ name, injector, reader string }{
		{"s3-context/s3-messages", "s3", "s3"},
		{"s3-context-key-prefix/s3-messages", "s3:ctx/prefix/", "s3"},
		{"env-context/s3-messages", "env", "s3"},
		{"tempfile-context/s3-messages", "tempfile", "s3"},
		{"s3-context/tempfile-messages", "s3", "tempfile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := s3Scenario(t, tc.injector, tc.reader)
			res := runScenario(t, sc)
			requireStoreReport(t, res, "s3")
			keys := s3Keys(t, sc.Env["PIPES_E2E_S3_BUCKET"])
			if tc.reader == "s3" {
				// The premise of the test: the messages went in several
				// chunks (Dagster's reader read them all, in order, above).
				chunks := 0
				for _, k := range keys {
					if chunkKeyRE.MatchString(k) {
						chunks++
					}
				}
				assert.GreaterOrEqual(t, chunks, batches, "message chunks in the bucket: %q", keys)
			}
			for _, k := range keys {
				assert.NotContains(t, k, "context.json", "Dagster's S3 injector deletes the context after the session")
			}
		})
	}
}

// A failing job: the closed message, uploaded to S3 with the exception,
// reaches Dagster, which records the exception, and the step fails because
// the process exited with status 1.
func TestS3Failure(t *testing.T) {
	res := runScenario(t, s3Scenario(t, "s3", "s3", "fail"))
	requireStoreFailure(t, res, "s3")
}

// include_stdio_in_messages on the S3 reader: what the job and its child
// process print comes back as log_external_stream messages, which
// Dagster's handler prints on its own stdout and stderr (the probe's
// sys.stdout and sys.stderr, past which the job's own forwarded output
// goes). Without the flag, none of it comes back.
func TestS3Stdio(t *testing.T) {
	testStoreStdio(t, "s3", func(t *testing.T, reader string) Scenario {
		return s3Scenario(t, "s3", reader, "stdio")
	})
}
