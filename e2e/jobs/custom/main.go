// Command custom is an e2e job: it sends custom messages of every JSON kind,
// first Go values, then each element of the extra "echo" unchanged.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		fmt.Fprintln(os.Stderr, "custom job failed:", err)
		os.Exit(1)
	}
}

type record struct {
	Name    string         `json:"name"`
	Count   int            `json:"count"`
	Skipped string         `json:"-"`
	Empty   string         `json:"empty,omitempty"`
	Attrs   map[string]any `json:"attrs"`
}

func job(ctx context.Context, p *pipes.Context) error {
	payloads := []any{
		nil,
		true,
		false,
		0,
		-1,
		int64(math.MaxInt64),
		int64(math.MinInt64),
		uint64(math.MaxUint64),
		1.5,
		float64(2), // a float stays a float: Python must see 2.0, not 2
		0.1,
		1e300,
		-2.5e-8,
		float32(0.5),
		"",
		"plain",
		"unicode ✓ 🚀 日本語",
		"escapes \" \\ / \n \t \u0000 \u2028 <>&",
		[]any{},
		map[string]any{},
		[]int{1, 2, 3},
		[]any{1, "two", 3.5, nil, true, []any{[]any{}}, map[string]any{"k": "v"}},
		map[string]any{"nested": map[string]any{"deep": []any{map[string]any{"x": nil}}}},
		map[string]int{"b": 2, "a": 1},
		record{Name: "rec", Count: 3, Skipped: "not sent", Attrs: map[string]any{"f": 1.0}},
		json.RawMessage(`{"raw":[1,2.50,"x"]}`),
		json.Number("123456789012345678901234567890"),
	}
	for i, v := range payloads {
		if err := p.ReportCustomMessage(v); err != nil {
			return fmt.Errorf("payload %d (%T): %w", i, v, err)
		}
	}
	echo, err := p.Extra("echo")
	if err != nil {
		return err
	}
	for i, v := range echo.([]any) {
		if err := p.ReportCustomMessage(v); err != nil {
			return fmt.Errorf("echo %d: %w", i, err)
		}
	}
	return nil
}
