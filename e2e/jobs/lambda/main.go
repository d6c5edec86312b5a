// Command lambda is the e2e function of the Lambda tests (e2e/lambda_test.go):
// a Go AWS Lambda function on aws-lambda-go and lambdapipes, run by the
// loopback emulator internal/lambdaemu and invoked by Dagster's
// PipesLambdaClient through a real boto3 Lambda client.
//
// The event's "mode" chooses what an invocation does:
//
//	report  (default) logs at every level, a custom message with what the
//	        job read (the context and the rest of the event) and how many
//	        invocations this process has served, a materialization with
//	        metadata and an asset check
//	fail    logs, then returns a wrapped error
//	panic   logs, then panics
//	big     like report, plus "messages" custom messages of about 100
//	        bytes each: more than the 4 KB log tail holds
//
// With "print", the job first prints that text to stderr (into the
// invocation's log, before the messages) and logs it too.
//
// The result is {"mode", "invocation", "pid"}.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/lambdapipes"
)

// Event is the user's part of the event (PipesLambdaClient's event=...).
type Event struct {
	Mode     string `json:"mode"`
	Rows     int    `json:"rows"`
	Messages int    `json:"messages"`
	Print    string `json:"print,omitempty"`
}

// Result is what the invocation returns.
type Result struct {
	Mode       string `json:"mode"`
	Invocation int64  `json:"invocation"`
	PID        int    `json:"pid"`
}

// served counts the invocations of this process: a warm function keeps it.
var served atomic.Int64

type loadError struct{ table string }

func (e *loadError) Error() string { return "table " + e.table + " is missing" }

func handle(ctx context.Context, p *pipes.Context, ev Event) (Result, error) {
	n := served.Add(1)
	res := Result{Mode: ev.Mode, Invocation: n, PID: os.Getpid()}
	log := p.Log()
	switch ev.Mode {
	case "fail":
		log.Info("lambda failing")
		return res, fmt.Errorf("lambda step failed: %w", pipes.WithStack(&loadError{"orders"}))
	case "panic":
		log.Info("lambda panicking")
		panic(errors.New("lambda panic value"))
	case "", "report", "big":
	default:
		return res, fmt.Errorf("unknown mode %q", ev.Mode)
	}

	if ev.Print != "" {
		fmt.Fprintln(os.Stderr, ev.Print)
		log.Info(string([]rune(ev.Print)[:min(len([]rune(ev.Print)), 20)]))
		ev.Print = "" // not in the custom message below
	}
	log.Debug("debug from lambda")
	log.Info("info from lambda", "rows", ev.Rows)
	log.Warn("warning from lambda")
	log.Error("error from lambda")
	keys, err := p.AssetKeys()
	if err != nil {
		return res, err
	}
	if err := p.ReportCustomMessage(map[string]any{
		"run_id": p.RunID(), "asset_keys": keys, "extras": p.Extras(),
		"event": ev, "invocation": n, "pid": res.PID,
	}); err != nil {
		return res, err
	}
	for i := range ev.Messages {
		if err := p.ReportCustomMessage(map[string]any{"i": i, "pad": strings.Repeat("x", 64)}); err != nil {
			return res, err
		}
	}
	if err := p.ReportAssetMaterialization(pipes.Materialization{
		DataVersion: fmt.Sprintf("rows-%d", ev.Rows),
		Metadata: pipes.Metadata{
			"rows":       ev.Rows,
			"invocation": n,
			"runtime":    pipes.Text("go-lambda"),
		},
	}); err != nil {
		return res, err
	}
	if err := p.ReportAssetCheck(pipes.AssetCheck{
		CheckName: "rows_positive",
		Passed:    ev.Rows > 0,
		Metadata:  pipes.Metadata{"rows": ev.Rows},
	}); err != nil {
		return res, err
	}
	return res, nil
}

func main() {
	lambda.Start(lambdapipes.Handler(handle))
}
