// Command robust is an e2e job for the faults of issue 10, named by its
// argument:
//
//   - "pipes-error": returns the error a report method gave for a value
//     Dagster cannot read (nested too deeply), wrapped by fmt.Errorf;
//   - "typed-nil": returns a nil *nilError, whose Error method panics;
//   - "goexit": calls runtime.Goexit, as t.Fatal does: the session closes
//     as failed and the goroutine that called pipes.Run ends (main runs it
//     on a goroutine of its own, and exits 1 when Run did not return);
//   - "refused": tries values Dagster cannot read (JSON(3), a cycle, 5,000
//     levels), then reports a valid materialization: the run succeeds.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/dagster-pipes-go/pipes"
)

type nilError struct{ msg string }

func (e *nilError) Error() string { return e.msg }

func deep(n int) any {
	var v any = 1
	for range n {
		v = []any{v}
	}
	return v
}

func main() {
	mode := os.Args[1]
	var err error
	returned := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		err = run(mode)
		returned = true
	}()
	<-done
	if !returned {
		fmt.Fprintln(os.Stderr, "robust job: the job called runtime.Goexit")
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "robust job:", err)
		os.Exit(1)
	}
}

func run(mode string) error {
	return pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		switch mode {
		case "pipes-error":
			err := p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"deep": deep(5000)}})
			return fmt.Errorf("reporting the result: %w", err)
		case "typed-nil":
			var e *nilError
			return e
		case "goexit":
			p.Log().Info("before Goexit")
			runtime.Goexit()
		case "refused":
			self := map[string]any{}
			self["self"] = self
			for name, v := range map[string]any{"json scalar": pipes.JSON(3), "cycle": self, "deep": deep(5000)} {
				err := p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"v": v}})
				p.Log().Warn("refused", "value", name, "err", err)
			}
			return p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"ok": pipes.JSON("a string is JSON too")}})
		}
		return nil
	})
}
