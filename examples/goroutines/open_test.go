package main

import (
	"context"
	"testing"

	"github.com/dagster-pipes-go/pipes"
)

func mustOpen(t *testing.T) *pipes.Context {
	t.Helper()
	p, err := pipes.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
