// Command many is an e2e job: 8 goroutines together send 10,000 log records
// and 1,000 custom messages, interleaved, as fast as they can.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/dagster-pipes-go/pipes"
)

const (
	goroutines   = 8
	logsPer      = 1250 // 10,000 in total
	customPer    = 125  // 1,000 in total
	logsPerCusto = logsPer / customPer
)

// Pad makes every message long enough that a torn write would show.
var pad = strings.Repeat("0123456789abcdef", 16)

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		fmt.Fprintln(os.Stderr, "many job failed:", err)
		os.Exit(1)
	}
}

func job(ctx context.Context, p *pipes.Context) error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			custom := 0
			for i := range logsPer {
				p.Log().Info(fmt.Sprintf("many g=%d seq=%04d %s", g, i, pad))
				if (i+1)%logsPerCusto == 0 {
					if err := p.ReportCustomMessage(map[string]any{"g": g, "seq": custom, "pad": pad}); err != nil {
						errs <- err
						return
					}
					custom++
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	return <-errs
}
