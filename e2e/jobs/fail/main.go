// Command fail is an e2e job that fails in the way named by its argument:
// "error" returns a wrapped error, "plain" a plain one, "panic" panics with a
// string, "runtime-panic" makes a runtime error. Before failing it logs and
// sends a custom message, which must still reach Dagster.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	mode := "error"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		p.Log().Info("about to fail", "mode", mode)
		if err := p.ReportCustomMessage("before failure"); err != nil {
			return err
		}
		return fail(mode)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fail job:", err)
		os.Exit(1)
	}
}

type jobError struct{ Code int }

func (e *jobError) Error() string { return fmt.Sprintf("job error code %d", e.Code) }

func fail(mode string) error {
	switch mode {
	case "error":
		if err := loadData(); err != nil {
			return fmt.Errorf("step failed: %w", err)
		}
	case "plain":
		return errors.New("plain failure")
	case "panic":
		explode()
	case "runtime-panic":
		var s []int
		_ = index(s, 3)
	}
	return nil
}

func loadData() error {
	// WithStack records this frame, so the cause's stack points here.
	return pipes.WithStack(&jobError{Code: 7})
}

func explode() {
	panic("boom")
}

func index(s []int, i int) int {
	return s[i]
}
