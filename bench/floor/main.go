// Command floor is the physical floor of bench/compare's log workload: it
// appends the same bytes that the pipes package writes for a log message,
// encoded by hand before the clock starts, with one write(2) per message to
// a file opened with O_APPEND, as the pipes file channel does.
//
//	floor PATH N      prints {"loop_ns": …}
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Line is exactly what the pipes package writes for
// p.Log().Info("processed batch 1234 of 100000 (250 records)").
const Line = `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"processed batch 1234 of 100000 (250 records)","level":"INFO"}}` + "\n"

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: floor PATH N")
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
	start := time.Now()
	for range n {
		if _, err := syscall.Write(fd, line); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	elapsed := time.Since(start)
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("{\"loop_ns\": %d}\n", elapsed.Nanoseconds())
}
