package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestErrorIsReportedToDagster(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{AssetKeys: []string{"fragile"}}, job)
	if !errors.Is(res.Err, ErrUpstreamMissing) {
		t.Fatalf("job error = %v, want ErrUpstreamMissing", res.Err)
	}
	exc := res.Exception
	if exc == nil {
		t.Fatal("closed message has no exception")
	}
	if want := "building fragile: loading s3://bucket/input.csv: upstream file is missing"; exc.Message != want {
		t.Errorf("message = %q, want %q", exc.Message, want)
	}
	// The chain of causes, down to the root cause.
	var chain []string
	for e := exc; e != nil; e = e.Cause {
		chain = append(chain, e.Message)
	}
	if got := chain[len(chain)-1]; got != "upstream file is missing" {
		t.Errorf("root cause = %q (chain %q)", got, chain)
	}
	// The error made by load carries the stack of where WithStack was
	// called; Dagster shows it with that cause.
	found := false
	for e := exc; e != nil; e = e.Cause {
		if len(e.Stack) > 0 && strings.Contains(e.Stack[len(e.Stack)-1], "errors.load") {
			found = true
		}
	}
	if !found {
		t.Errorf("no exception in the chain has a stack ending in load")
	}
}

func TestPanicIsReported(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{Extras: map[string]any{"mode": "panic"}}, job)
	var pe *pipes.PanicError
	if !errors.As(res.Err, &pe) {
		t.Fatalf("job error = %v, want a *pipes.PanicError", res.Err)
	}
	if res.Exception == nil || !strings.Contains(res.Exception.Message, "index out of range") {
		t.Errorf("exception = %+v", res.Exception)
	}
}

func TestOK(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{AssetKeys: []string{"fragile"}, Extras: map[string]any{"mode": "ok"}}, job)
	if res.Failed() {
		t.Fatalf("failed: %v %v", res.Err, res.Exception)
	}
}
