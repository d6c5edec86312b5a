package gcspipes_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/gcspipes"
	"github.com/dagster-pipes-go/pipes/internal/blobbench"
)

// BenchmarkHundredThousandMessages writes 100,000 messages through a GCS
// channel on fake-gcs-server, uploading every 100 ms, and closes it: the
// time of a chatty job's whole message traffic, final flush included.
func BenchmarkHundredThousandMessages(b *testing.B) {
	client, bucket := newBucket(b)
	msgs := make([]pipes.Message, 100_000)
	for i := range msgs {
		msgs[i] = pipes.Message{Method: pipes.MethodLog, Params: []byte(`{"message":"line ` + strconv.Itoa(i) + `","level":"INFO"}`)}
	}
	b.ReportAllocs()
	run := 0
	for b.Loop() {
		run++
		prefix := "run" + strconv.Itoa(run)
		ch := gcspipes.NewChannel(client, bucket, prefix, pipes.BlobStoreOptions{Interval: 100 * time.Millisecond})
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
	if _, err := getObject(b, client, bucket, gcspipes.ChunkKey("run"+strconv.Itoa(run), 1)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMillionMessages writes 1,000,000 log messages (20,000 with
// -short) through a GCS channel on fake-gcs-server and closes it:
// messages/s and the peak live heap (issue 16; bench/compare reports it).
func BenchmarkMillionMessages(b *testing.B) {
	client, bucket := newBucket(b)
	blobbench.Run(b, func(name string) pipes.MessageWriterChannel {
		return gcspipes.NewChannel(client, bucket, strings.ReplaceAll(name, "/", "-"), pipes.BlobStoreOptions{Interval: blobbench.Interval})
	})
}
