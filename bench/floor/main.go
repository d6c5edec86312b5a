// Command floor is the physical floor of bench/compare's log workload: it
// appends the same bytes that the pipes package writes for a log message,
// encoded by hand before the clock starts, with one write(2) per message to
// a file opened with O_APPEND, as the pipes file channel does.
//
//	floor PATH N        prints {"loop_ns": …}
//	floor PATH N slog   the same writes, each made by a *slog.Logger's
//	                    Info(msg) whose handler writes the pre-encoded line
//	                    and does nothing else: slog's own floor, which no
//	                    handler can go below
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"time"
)

// writeHandler is the slog mode's handler: one write(2) of the line.
type writeHandler struct {
	fd   int
	line []byte
}

func (h *writeHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *writeHandler) Handle(context.Context, slog.Record) error {
	_, err := syscall.Write(h.fd, h.line)
	return err
}
func (h *writeHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *writeHandler) WithGroup(string) slog.Handler      { return h }

// Line is exactly what the pipes package writes for
// p.Log().Info("processed batch 1234 of 100000 (250 records)").
const Line = `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"processed batch 1234 of 100000 (250 records)","level":"INFO"}}` + "\n"

func main() {
	if len(os.Args) != 3 && (len(os.Args) != 4 || os.Args[3] != "slog") {
		fmt.Fprintln(os.Stderr, "usage: floor PATH N [slog]")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	f, err := os.OpenFile(os.Args[1], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fd := int(f.Fd())
	line := []byte(Line)
	var elapsed time.Duration
	if len(os.Args) == 4 {
		const msg = "processed batch 1234 of 100000 (250 records)"
		h := &writeHandler{fd: fd, line: line}
		log := slog.New(h)
		start := time.Now()
		for range n {
			log.Info(msg)
		}
		elapsed = time.Since(start)
	} else {
		start := time.Now()
		for range n {
			if _, err := syscall.Write(fd, line); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		elapsed = time.Since(start)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("{\"loop_ns\": %d}\n", elapsed.Nanoseconds())
}
