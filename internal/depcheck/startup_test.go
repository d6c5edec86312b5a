package depcheck

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// startupHeavy are standard packages that the root package must not link:
// net makes a cgo-enabled build dynamically linked (the system resolver),
// and net/http and crypto/tls add their size and initialisation. Together
// they cost every Go job about 2 ms of start-up and 1.7 MB (issue 16,
// BENCHMARKS.md). Code that needs them lives in its own package (dbfslogs,
// the cloud modules).
var startupHeavy = []string{"net", "net/http", "crypto/tls", "runtime/cgo"}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestRootLinksNoNetworking fails if the root package depends on net,
// net/http, crypto/tls or runtime/cgo.
func TestRootLinksNoNetworking(t *testing.T) {
	d := deps(t, module)
	for _, p := range startupHeavy {
		if slices.Contains(d, p) {
			t.Errorf("the root package depends on %s, which slows the start-up of every job; move the code that needs it to a package of its own", p)
		}
	}
}

// TestNetworkCheckCanFail makes sure the check sees networking where it is.
func TestNetworkCheckCanFail(t *testing.T) {
	if d := deps(t, module+"/dbfslogs"); !slices.Contains(d, "net/http") {
		t.Fatal("dbfslogs should depend on net/http")
	}
}
