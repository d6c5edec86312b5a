package depcheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testOnlyModules are the modules that the root module requires for its own
// tests only. They appear in a user's module graph (go.mod lists them) but
// never in a user's build.
var testOnlyModules = map[string]bool{
	"github.com/stretchr/testify":   true,
	"github.com/davecgh/go-spew":    true,
	"github.com/pmezard/go-difflib": true,
	"gopkg.in/yaml.v3":              true,
	"go.uber.org/goleak":            true,
}

// repoRoot is the repository's root: two directories above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

// scratchModuleGraph writes a module that imports pkg (a package of module
// mod, found in this repository at dir) and returns `go list -m all` of it,
// outside the workspace, as a user's module would see it.
func scratchModuleGraph(t *testing.T, mod, dir, pkg string) []string {
	t.Helper()
	root := repoRoot(t)
	scratch := t.TempDir()
	gomod := "module example.com/scratch\n\ngo 1.26\n\n" +
		"require " + mod + " v0.0.0-00010101000000-000000000000\n\n" +
		"replace " + mod + " => " + filepath.Join(root, dir) + "\n"
	if mod != module {
		// A cloud module requires the root module too; point it here.
		gomod += "replace " + module + " => " + root + "\n"
	}
	main := "package main\n\nimport _ \"" + pkg + "\"\n\nfunc main() {}\n"
	for name, content := range map[string]string{"go.mod": gomod, "main.go": main} {
		if err := os.WriteFile(filepath.Join(scratch, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = scratch
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	run("mod", "tidy")
	var mods []string
	for _, line := range strings.Split(strings.TrimSpace(run("list", "-m", "all")), "\n") {
		path, _, _ := strings.Cut(line, " ")
		mods = append(mods, path)
	}
	return mods
}

// TestUserModuleGraphHasNoCloudModule: a user's module that requires only
// the root module has no module in its graph but the root (and the root's
// test-only modules): no cloud SDK reaches dependency or CVE scanners.
func TestUserModuleGraphHasNoCloudModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module")
	}
	mods := scratchModuleGraph(t, module, ".", module)
	var unexpected []string
	for _, m := range mods {
		if m != "example.com/scratch" && m != module && !testOnlyModules[m] {
			unexpected = append(unexpected, m)
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("a module that requires only %s has these modules in its graph too:\n  %s",
			module, strings.Join(unexpected, "\n  "))
	}
}

// TestModuleGraphCheckSeesCloudModules makes sure the check above can fail:
// a module that requires s3pipes has the AWS SDK in its graph.
func TestModuleGraphCheckSeesCloudModules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module")
	}
	mods := scratchModuleGraph(t, module+"/s3pipes", "s3pipes", module+"/s3pipes")
	for _, m := range mods {
		if strings.HasPrefix(m, "github.com/aws/aws-sdk-go-v2") {
			return
		}
	}
	t.Fatalf("expected AWS SDK modules in the graph of a module requiring s3pipes, got %v", mods)
}
