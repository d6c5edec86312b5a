package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeEntry returns the text block of the README's troubleshooting entry
// titled title.
func readmeEntry(t *testing.T, title string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Troubleshooting\n")
	require.True(t, ok, "README.md has no Troubleshooting section")
	section, _, _ = strings.Cut(section, "\n## ")
	m := regexp.MustCompile("(?s)\n### " + regexp.QuoteMeta(title) + "\n.*?```text\n(.*?)\n```").FindStringSubmatch(section)
	require.NotNil(t, m, "README.md has no troubleshooting entry %q", title)
	return m[1]
}

// The README's troubleshooting texts for a job's mistakes are what real
// Dagster records in the closed message's exception (the root package's
// troubleshooting_test.go checks every entry against the library).
func TestReadmeTroubleshootingUnderDagster(t *testing.T) {
	customers := []AssetDef{{Key: []string{"customers"}}}
	for _, tc := range []struct{ mode, title string }{
		{"orders", "Invalid asset key"},
		{"twice", "Second materialization of an asset"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			res := runScenario(t, Scenario{Job: "newcomer", Args: []string{tc.mode}, Assets: customers})
			assert.False(t, res.Success, "Dagster's run should fail")
			exc := closedError(t, res)
			assert.Equal(t, readmeEntry(t, tc.title), exc.Message)
		})
	}
}
