package s3pipes_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/blobbench"
	"github.com/dagster-pipes-go/pipes/internal/moto"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// BenchmarkHundredThousandMessages writes 100,000 messages through an S3
// channel on moto, uploading every 100 ms, and closes it: the time of a
// chatty job's whole message traffic, final flush included.
func BenchmarkHundredThousandMessages(b *testing.B) {
	srv := moto.Shared(b)
	bucket := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e9)
	srv.CreateBucket(b, bucket)
	client := newClient(srv.Endpoint)
	msgs := make([]pipes.Message, 100_000)
	for i := range msgs {
		msgs[i] = pipes.Message{Method: pipes.MethodLog, Params: []byte(`{"message":"line ` + strconv.Itoa(i) + `","level":"INFO"}`)}
	}
	b.ReportAllocs()
	run := 0
	for b.Loop() {
		run++
		prefix := "run" + strconv.Itoa(run)
		ch := s3pipes.NewChannel(client, bucket, prefix, pipes.BlobStoreOptions{Interval: 100 * time.Millisecond})
		for _, m := range msgs {
			if err := ch.WriteMessage(m); err != nil {
				b.Fatal(err)
			}
		}
		if err := ch.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "msgs/s")
	// The chunks exist: at least chunk 1 of the last run.
	if _, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(s3pipes.ChunkKey("run"+strconv.Itoa(run), 1)),
	}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMillionMessages writes 1,000,000 log messages (20,000 with
// -short) through an S3 channel on moto and closes it: messages/s and the
// peak live heap, which follows one interval's chunk, not the total (issue
// 16; bench/compare reports it).
func BenchmarkMillionMessages(b *testing.B) {
	srv := moto.Shared(b)
	bucket := fmt.Sprintf("bench1m-%d", time.Now().UnixNano()%1e9)
	srv.CreateBucket(b, bucket)
	client := newClient(srv.Endpoint)
	blobbench.Run(b, func(name string) pipes.MessageWriterChannel {
		return s3pipes.NewChannel(client, bucket, strings.ReplaceAll(name, "/", "-"), pipes.BlobStoreOptions{Interval: blobbench.Interval})
	})
}
