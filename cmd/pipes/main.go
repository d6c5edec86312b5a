// Command pipes makes any program a Dagster Pipes external process, and runs
// Pipes programs without Dagster.
//
// Usage:
//
//	pipes exec [flags] -- COMMAND [ARGS...]   run COMMAND as the external process Dagster launched
//	pipes log [--level L] MESSAGE             report from inside COMMAND (any language)
//	pipes materialize [--asset K] [--data-version V] [--meta k=v]... [--meta-json k=JSON]... [--meta-type k=TYPE]...
//	pipes check --name N (--passed|--failed) [--severity WARN|ERROR] [--asset K] [--meta ...]
//	pipes message JSON
//	pipes context [FIELD]                     print the context, or one field (extras.limit, partition_key, …)
//	pipes run [flags] -- PROGRAM [ARGS...]    play Dagster's part locally and show what PROGRAM reports
//
// `pipes exec` is the external side: Dagster launches it (PipesSubprocessClient, a
// Kubernetes pod, an ECS task, …) with an unmodified COMMAND, such as a shell
// script. It opens the Pipes session from what Dagster injected, passes the
// command's stdin, stdout and stderr through, and closes the session with the
// command's outcome: a non-zero exit or a death by signal becomes the exception
// Dagster records, with the last lines of stderr. The command and its children
// report through the verbs above, which reach `pipes exec` over a private Unix
// socket named in their environment. --context-loader and --message-writer
// match the injector and reader of Dagster's side: default, s3, gcs, azure,
// dbfs or volumes, with the clients built from the environment.
//
// `pipes run` plays the orchestrator's part, as Dagster's PipesSubprocessClient
// does, with the context taken from flags; it works with Go programs that use
// the pipes package and with `pipes exec`:
//
//	go run ./cmd/pipes run -- go run ./examples/quickstart
//	pipes run --asset orders -- pipes exec -- ./job.sh
//
// `pipes help COMMAND` or `pipes COMMAND -help` describes each command.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(dispatch(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `pipes makes any program a Dagster Pipes external process.

Usage:
  pipes exec [flags] -- COMMAND [ARGS...]   run COMMAND as the external process Dagster launched
  pipes log [--level L] MESSAGE             log to Dagster (from inside COMMAND)
  pipes materialize [flags]                 report an asset materialization
  pipes check --name N (--passed|--failed)  report an asset check result
  pipes message JSON                        send a custom message
  pipes context [FIELD]                     print the context, or one field (extras.limit, …)
  pipes run [flags] -- PROGRAM [ARGS...]    run PROGRAM as Dagster would, locally, and show what it reports

Run "pipes COMMAND -help" for a command's flags.
`

// dispatch runs the subcommand named by args[0] and returns the exit status.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "exec":
		return execMain(ctx, rest, stdout, stderr)
	case "run":
		return runCmd(rest, stdout, stderr, true)
	case "log", "materialize", "check", "message", "context":
		return verbMain(ctx, name, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(rest) == 1 && rest[0] != "help" {
			return dispatch(ctx, []string{rest[0], "-help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "pipes: unknown command %q\n\n%s", name, usage)
	return 2
}
