package testserver

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// StartChild runs this test binary again with env=1 set, for a test
// process that serves something on its own (so that what the server holds
// stays out of the measured process), and returns the first lines it
// prints on stdout (its address, say). The child's TestMain calls
// ServeChild when env is set. The child is stopped, by closing its stdin,
// when the test ends; a failed exit fails the test.
func StartChild(t testing.TB, env, name string, lines int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the %s process: %v", name, err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s process: %v", name, err)
		}
	})
	r := bufio.NewReader(stdout)
	out := make([]string, lines)
	for i := range out {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s process: reading its line %d: %v (got %q)", name, i+1, err, l)
		}
		out[i] = strings.TrimSuffix(l, "\n")
	}
	return out
}

// ServeChild is the child side of StartChild: it prints lines, one each,
// and returns when its stdin closes.
func ServeChild(lines ...string) {
	for _, l := range lines {
		os.Stdout.WriteString(l + "\n")
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
}
