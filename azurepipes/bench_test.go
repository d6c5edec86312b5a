package azurepipes_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/azurepipes"
	"github.com/dagster-pipes-go/pipes/internal/azurite"
	"github.com/dagster-pipes-go/pipes/internal/blobbench"
)

// BenchmarkHundredThousandMessages writes 100,000 messages through an
// Azure channel on Azurite, uploading every 100 ms, and closes it: the
// time of a chatty job's whole message traffic, final flush included.
func BenchmarkHundredThousandMessages(b *testing.B) {
	srv := azurite.Shared(b)
	client, err := azurepipes.NewClientFromConnectionString(srv.ConnectionString(), nil)
	if err != nil {
		b.Fatal(err)
	}
	container := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e9)
	if _, err := client.CreateContainer(context.Background(), container, nil); err != nil {
		b.Fatal(err)
	}
	msgs := make([]pipes.Message, 100_000)
	for i := range msgs {
		msgs[i] = pipes.Message{Method: pipes.MethodLog, Params: []byte(`{"message":"line ` + strconv.Itoa(i) + `","level":"INFO"}`)}
	}
	b.ReportAllocs()
	run := 0
	for b.Loop() {
		run++
		prefix := "run" + strconv.Itoa(run)
		ch := azurepipes.NewChannel(client, container, prefix, pipes.BlobStoreOptions{Interval: 100 * time.Millisecond})
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
	resp, err := client.DownloadStream(context.Background(), container, azurepipes.ChunkKey("run"+strconv.Itoa(run), 1), nil)
	if err != nil {
		b.Fatalf("chunk 1 of the last run: %v", err)
	}
	resp.Body.Close()
}

// BenchmarkMillionMessages writes 1,000,000 log messages (20,000 with
// -short) through an Azure channel on Azurite and closes it: messages/s and
// the peak live heap (issue 16; bench/compare reports it).
func BenchmarkMillionMessages(b *testing.B) {
	srv := azurite.Shared(b)
	client, err := azurepipes.NewClientFromConnectionString(srv.ConnectionString(), nil)
	if err != nil {
		b.Fatal(err)
	}
	container := fmt.Sprintf("bench1m-%d", time.Now().UnixNano()%1e9)
	if _, err := client.CreateContainer(context.Background(), container, nil); err != nil {
		b.Fatal(err)
	}
	blobbench.Run(b, func(name string) pipes.MessageWriterChannel {
		return azurepipes.NewChannel(client, container, strings.ReplaceAll(name, "/", "-"), pipes.BlobStoreOptions{Interval: blobbench.Interval})
	})
}
