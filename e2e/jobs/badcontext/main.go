// Command badcontext is an e2e job whose context cannot be loaded: it reads
// the context through the DBFS mount, which does not exist here, so Open
// fails. The library still tells Dagster why, in the closed message.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		return fmt.Errorf("the job must not run without its context")
	}, pipes.WithContextLoader(pipes.DBFSContextLoader{Root: "/nonexistent-dbfs-mount"}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "badcontext job:", err)
		os.Exit(1)
	}
}
