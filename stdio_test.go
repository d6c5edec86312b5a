//go:build unix

package pipes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdioJobEnv tells the test binary, re-run as a child, to act as the job.
const stdioJobEnv = "PIPES_TEST_STDIO_JOB"

// TestStdioCaptureJob is the job of TestStdioCapture; it does nothing when
// run directly.
func TestStdioCaptureJob(t *testing.T) {
	if os.Getenv(stdioJobEnv) == "" {
		return
	}
	err := Run(context.Background(), func(ctx context.Context, p *Context) error {
		fmt.Println("hello stdout")
		fmt.Fprintln(os.Stderr, "hello stderr")
		// A child process writes to the inherited descriptors: captured too.
		child := exec.Command("sh", "-c", "echo from child; echo child err >&2")
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
		return child.Run()
	})
	if err != nil {
		os.Exit(3)
	}
	os.Exit(0)
}

func TestStdioCapture(t *testing.T) {
	dir := t.TempDir()
	msgPath := filepath.Join(dir, "messages")
	boot := bootstrap(t, map[string]any{"data": testData()}, map[string]any{"path": msgPath, "include_stdio_in_messages": true})
	cmd := exec.Command(os.Args[0], "-test.run=^TestStdioCaptureJob$")
	cmd.Env = append(os.Environ(), stdioJobEnv+"=1", ContextEnvVar+"="+boot[ContextEnvVar], MessagesEnvVar+"="+boot[MessagesEnvVar])
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())

	// The console still shows everything.
	assert.Contains(t, stdout.String(), "hello stdout\n")
	assert.Contains(t, stdout.String(), "from child\n")
	assert.Contains(t, stderr.String(), "hello stderr\n")
	assert.Contains(t, stderr.String(), "child err\n")

	msgs := readMessages(t, msgPath)
	require.Equal(t, "closed", msgs[len(msgs)-1].Method, "no stream text after closed")
	text := map[string]string{}
	for _, m := range msgs {
		if m.Method == "log_external_stream" {
			assert.Equal(t, map[string]any{}, m.Params["extras"])
			text[m.Params["stream"].(string)] += m.Params["text"].(string)
		}
	}
	assert.Equal(t, "hello stdout\nfrom child\n", text["stdout"])
	assert.Equal(t, "hello stderr\nchild err\n", text["stderr"])
}

func TestCaptureStdioOnlyWhenAsked(t *testing.T) {
	ch := NewStreamChannel(&strings.Builder{})
	assert.Same(t, ch, CaptureStdio(ch, Params{"include_stdio_in_messages": false}))
	assert.Same(t, ch, CaptureStdio(ch, Params{}))
}
