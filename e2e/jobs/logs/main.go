// Command logs is an e2e job: it logs at every level through Context.Log,
// including slog levels between the named ones and records with attributes.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		os.Exit(1)
	}
}

func job(ctx context.Context, p *pipes.Context) error {
	log := p.Log()
	log.Debug("debug message")
	log.Info("info message")
	log.Warn("warning message")
	log.Error("error message")
	log.Log(ctx, pipes.LevelCritical, "critical message")

	// Levels between Python's: slog has a continuous scale.
	log.Log(ctx, slog.LevelDebug-4, "below debug")
	log.Log(ctx, slog.LevelInfo+2, "between info and warning")
	log.Log(ctx, slog.LevelError+2, "between error and critical")
	log.Log(ctx, pipes.LevelCritical+8, "above critical")

	// Attributes become key=value pairs after the message.
	log.Info("with attrs", "n", 3, "s", "two words", "ok", true)
	log.With("req", "abc").WithGroup("g").Info("grouped", "k", "v")
	log.Info("unicode ✓ 🚀 \"quoted\" and a\nsecond line")
	return nil
}
