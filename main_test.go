package pipes

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childEnv names the helper a re-executed test binary runs instead of the
// tests (see TestMain); tests that need a process of their own (signals,
// exit codes) use it.
const childEnv = "PIPES_TEST_CHILD"

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		runChild(name)
		return
	}
	goleak.VerifyTestMain(m)
}

// children are the child helpers defined in platform-specific files.
var children = map[string]func(){}

// runChild runs one child helper and exits.
func runChild(name string) {
	if f, ok := children[name]; ok {
		f()
		os.Exit(0)
	}
	switch name {
	case "ignore-signals":
		// A job that never looks at its ctx: only a second signal ends it.
		err := Run(context.Background(), func(ctx context.Context, p *Context) error {
			fmt.Println("job started")
			time.Sleep(time.Hour)
			return nil
		}, WithSignalDelay(0)) // the test signals as soon as the job starts
		fmt.Fprintln(os.Stderr, "Run returned:", err)
		os.Exit(3)
	}
	fmt.Fprintln(os.Stderr, "unknown child", name)
	os.Exit(2)
}
