// Command goroutines is a long-running Dagster Pipes job that works in
// several goroutines, each logging its progress through the shared
// pipes.Context (safe for concurrent use; every message is written whole),
// reporting a custom message when it finishes, and stopping cleanly when
// Dagster interrupts the run (SIGINT or SIGTERM cancel ctx in pipes.Run).
//
// Extras: "workers" (default 4), "steps" per worker (default 20) and
// "step_ms", the time one step takes (default 100).
//
// Dagster launches it with definitions.py; without Dagster:
//
//	go run ./cmd/pipes run --asset crunched --extra workers=3 -- go run ./examples/goroutines
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		// pipes.Run has sent the error to Dagster (the closed message); say
		// it on stderr too, for whoever runs the program by hand.
		fmt.Fprintln(os.Stderr, "goroutines:", err)
		os.Exit(1)
	}
}

// settings are read from the extras.
type settings struct {
	workers, steps int
	step           time.Duration
}

func readSettings(p *pipes.Context) (settings, error) {
	s := settings{workers: 4, steps: 20, step: 100 * time.Millisecond}
	stepMS := int(s.step / time.Millisecond)
	for key, dst := range map[string]*int{"workers": &s.workers, "steps": &s.steps, "step_ms": &stepMS} {
		if err := p.DecodeExtra(key, dst); err != nil && !errors.Is(err, pipes.ErrUndefined) {
			return s, err
		}
	}
	s.step = time.Duration(stepMS) * time.Millisecond
	return s, nil
}

func job(ctx context.Context, p *pipes.Context) error {
	s, err := readSettings(p)
	if err != nil {
		return err
	}
	p.Log().Info("starting", "workers", s.workers, "steps", s.steps)

	results := make([]int, s.workers)
	var wg sync.WaitGroup
	for w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := p.Log().With("worker", w)
			for i := range s.steps {
				select {
				case <-ctx.Done():
					log.Warn("stopping", "done", i)
					return
				case <-time.After(s.step):
				}
				results[w] += i
				if (i+1)%5 == 0 {
					log.Info("progress", "step", i+1, "of", s.steps)
				}
			}
			_ = p.ReportCustomMessage(map[string]any{"worker": w, "sum": results[w]})
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err // interrupted: Dagster records the cancellation
	}
	total := 0
	for _, r := range results {
		total += r
	}
	return p.ReportAssetMaterialization(pipes.Materialization{
		Metadata: pipes.Metadata{"workers": s.workers, "steps": s.steps, "total": total},
	})
}
