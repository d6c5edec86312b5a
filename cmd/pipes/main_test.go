package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// asMainEnv makes the test binary act as the pipes command, so that the
// commands under test can call "pipes log" and friends.
const asMainEnv = "PIPES_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(dispatch(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	goleak.VerifyTestMain(m,
		// Started by an init function of go.opencensus.io, which the tests'
		// fake-gcs-server links in (through the GCS SDK), for the life of
		// the process. The pipes binary itself does not link it.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// pipesOnPath puts a "pipes" command that runs the test binary as the pipes
// command first on PATH, and returns its path.
func pipesOnPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "pipes")
	script := "#!/bin/sh\n" + asMainEnv + "=1 exec '" + exe + "' \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return wrapper
}
