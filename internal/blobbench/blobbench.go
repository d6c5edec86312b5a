// Package blobbench is the shared body of the blob-store channel benchmarks
// (issue 16): each cloud module runs it on its own channel against its
// emulator (S3 on moto, GCS on fake-gcs-server, Azure on Azurite), and
// bench/compare collects the results.
package blobbench

import (
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// Line is the params of the benchmarks' log message: the log line of
// bench/compare, 131 bytes on the wire with its newline.
const Line = `{"message":"processed batch 1234 of 100000 (250 records)","level":"INFO"}`

// Interval is the upload interval of the benchmarks.
const Interval = 100 * time.Millisecond

// Messages is how many messages a run writes: 1,000,000, or 20,000 in
// short mode (CI), which keeps the benchmark working in seconds.
func Messages() int {
	if testing.Short() {
		return 20_000
	}
	return 1_000_000
}

// PacedRate is the message rate of the paced runs: about a tenth of what a
// file channel takes, and below what each emulator absorbs, so that the
// uploads keep up and the heap shows what the channel holds per interval.
const PacedRate = 100_000

// Run runs two sub-benchmarks on the channel that open returns for each
// iteration: "burst" writes Messages() log messages as fast as it can, and
// "paced" at PacedRate messages/s. Each closes the channel (the final flush
// is in the time) and reports msgs/s, the peak live heap (as marked by
// each GC, above the heap before the run), the peak heap including garbage
// not yet collected, the megabytes sent and one interval's worth of
// messages at the paced rate. The benchmark keeps no message: the heap
// follows what the channel holds. A burst outruns every emulator, so its
// chunks, and its peak, hold most of what was sent; paced, the peak
// follows one interval's chunk.
func Run(b *testing.B, open func(name string) pipes.MessageWriterChannel) {
	b.Run("burst", func(b *testing.B) { run(b, 0, open) })
	b.Run("paced", func(b *testing.B) { run(b, PacedRate, open) })
}

func run(b *testing.B, rate int, open func(name string) pipes.MessageWriterChannel) {
	n := Messages()
	msg := pipes.Message{Method: pipes.MethodLog, Params: []byte(Line)}
	wire := int64(len(msg.AppendJSON(nil)) + 1)
	runs := 0
	var peak, peakLive int64
	var elapsed time.Duration
	for b.Loop() {
		runs++
		s := startSampler()
		start := time.Now()
		ch := open(b.Name() + "-" + strconv.Itoa(runs))
		for i := range n {
			if rate > 0 && i%1000 == 0 {
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
			}
			if err := ch.WriteMessage(msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := ch.Close(); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		p, l := s.stop()
		peak, peakLive = max(peak, p), max(peakLive, l)
	}
	b.ReportMetric(float64(n*runs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(peakLive)/(1<<20), "peak-live-MB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(wire*int64(n))/(1<<20), "sent-MB")
	if rate > 0 {
		b.ReportMetric(float64(wire)*float64(rate)*Interval.Seconds()/(1<<20), "interval-MB")
	}
}

// sampler records the peak heap every millisecond.
type sampler struct {
	base, baseLive  int64
	peak, peakLive  atomic.Int64
	stopCh, stopped chan struct{}
}

func startSampler() *sampler {
	runtime.GC()
	s := &sampler{stopCh: make(chan struct{}), stopped: make(chan struct{})}
	s.base, s.baseLive = heapBytes()
	go func() {
		defer close(s.stopped)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			h, live := heapBytes()
			s.peak.Store(max(s.peak.Load(), h-s.base))
			s.peakLive.Store(max(s.peakLive.Load(), live-s.baseLive))
			select {
			case <-s.stopCh:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() (peak, peakLive int64) {
	close(s.stopCh)
	<-s.stopped
	return s.peak.Load(), s.peakLive.Load()
}

// heapBytes returns the bytes of heap objects (live or not yet swept) and
// the live heap marked by the last GC.
func heapBytes() (objects, live int64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
}
