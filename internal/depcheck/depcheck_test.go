package depcheck

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/dagster-pipes-go/pipes"

// foreign returns the packages that pkg depends on (itself included) for
// goos that are neither in the standard library nor internal packages of
// this module.
func foreign(t *testing.T, goos, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", pkg)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var bad []string
	seen := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, std, _ := strings.Cut(line, " ")
		switch {
		case path == pkg:
			seen = true
		case std == "true":
		case path == module, strings.HasPrefix(path, module+"/internal/"):
			// The root and the module's internals are allowed; their own
			// dependencies are listed (and checked) too.
		default:
			bad = append(bad, path)
		}
	}
	if !seen {
		t.Fatalf("go list did not list %s:\n%s", pkg, out)
	}
	return bad
}

// TestRootImportsOnlyStandardLibrary fails if the root package depends, on
// any main platform, on a package outside the standard library.
func TestRootImportsOnlyStandardLibrary(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		t.Run(goos, func(t *testing.T) {
			if bad := foreign(t, goos, module); len(bad) > 0 {
				t.Errorf("the root package %s must import only the standard library, but depends on:\n  %s",
					module, strings.Join(bad, "\n  "))
			}
		})
	}
}

// TestCheckSeesForeignPackages makes sure the check can fail: s3pipes
// depends on the AWS SDK.
func TestCheckSeesForeignPackages(t *testing.T) {
	bad := foreign(t, "linux", module+"/s3pipes")
	found := false
	for _, p := range bad {
		if strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/") {
			found = true
		}
	}
	if !found {
		t.Fatalf("expected AWS SDK packages among the dependencies of s3pipes, got %v", bad)
	}
}
