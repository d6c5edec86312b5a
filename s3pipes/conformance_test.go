package s3pipes_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// The conformance kits, against moto: what every backend runs.

func TestMessageWriterConformance(t *testing.T) {
	pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
		_, client, bucket := newBucket(t)
		return pipestest.WriterHarness{
			Writer: s3pipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}},
			Params: pipes.Params{"bucket": bucket, "key_prefix": "run/messages"},
			ReadBack: func() ([]byte, error) {
				return []byte(strings.Join(chunks(t, client, bucket, "run/messages"), "\n")), nil
			},
		}
	})
}

func TestContextLoaderConformance(t *testing.T) {
	_, client, bucket := newBucket(t)
	n := 0
	pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
		n++
		key := "contexts/" + strings.Repeat("c", n) + ".json"
		putObject(t, client, bucket, key, string(data))
		return s3pipes.ContextLoader{Client: client}, pipes.Params{"bucket": bucket, "key": key}
	})
}
