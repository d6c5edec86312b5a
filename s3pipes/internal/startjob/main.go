// Command startjob is the s3pipes side of bench/compare's start-up
// comparison (issue 16): the same stages as bench/gojob's startup-*
// workloads, in a binary that links s3pipes and the AWS SDK. It reads the
// context from the file and writes messages to the file that Dagster
// named, as bench/gojob does, so that the difference is what linking and
// initialising s3pipes costs; startup-open-client also builds the S3
// client from the environment first, as an S3 job does before Open.
//
//	startjob startup-init         returns from main at once
//	startjob startup-open         pipes.Open with the file loaders, then returns
//	startjob startup-open-client  s3pipes.NewClientFromEnv, then the same
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: startjob startup-init | startup-open | startup-open-client")
		os.Exit(2)
	}
	ctx := context.Background()
	var opts []pipes.Option
	switch os.Args[1] {
	case "startup-init":
		return
	case "startup-open":
		// Never taken at run time (bench/compare does not set the
		// variable), but keeps s3pipes in the binary.
		if os.Getenv("STARTJOB_S3_MESSAGES") != "" {
			opts = append(opts, pipes.WithMessageWriter(s3pipes.MessageWriter{}))
		}
	case "startup-open-client":
		client, err := s3pipes.NewClientFromEnv(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if os.Getenv("STARTJOB_S3_MESSAGES") != "" {
			opts = append(opts, pipes.WithMessageWriter(s3pipes.MessageWriter{Client: client}))
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown stage", os.Args[1])
		os.Exit(2)
	}
	if _, err := pipes.Open(ctx, opts...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
