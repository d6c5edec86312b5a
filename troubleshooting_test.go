//go:build unix

// The expected texts hold a Unix error ("no such file or directory").

package pipes_test

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
)

// readmeTroubleshooting returns the README's troubleshooting entries: the
// text block under each "### " heading of the "## Troubleshooting" section.
func readmeTroubleshooting(t *testing.T) map[string]string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Troubleshooting\n")
	require.True(t, ok, "README.md has no Troubleshooting section")
	section, _, _ = strings.Cut(section, "\n## ")
	entries := map[string]string{}
	entry := regexp.MustCompile("(?s)\n### ([^\n]+)\n.*?```text\n(.*?)\n```")
	for _, m := range entry.FindAllStringSubmatch(section, -1) {
		entries[m[1]] = m[2]
	}
	return entries
}

// bootstrapFor is what Dagster hands the program: the two encoded values.
func bootstrapFor(t *testing.T, contextParams, messagesParams map[string]any) pipes.Option {
	t.Helper()
	c, err := pipes.EncodeParam(contextParams)
	require.NoError(t, err)
	m, err := pipes.EncodeParam(messagesParams)
	require.NoError(t, err)
	return pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: c, pipes.MessagesEnvVar: m,
	}})
}

// The README's troubleshooting texts (copied from real runs under Dagster,
// or by hand for the first) are what the library produces in the same
// situations, so that a user can search for the text they see.
func TestReadmeTroubleshooting(t *testing.T) {
	ctx := context.Background()
	messagesFile := func(t *testing.T) map[string]any {
		return map[string]any{"path": t.TempDir() + "/messages"}
	}
	oneAsset := map[string]any{"data": map[string]any{"asset_keys": []string{"customers"}}}

	scenarios := map[string]func(t *testing.T) string{
		"Not launched by Dagster": func(t *testing.T) string {
			var stderr bytes.Buffer
			p, err := pipes.New(ctx, pipes.WithParamsLoader(pipes.MappingParamsLoader{}), pipes.WithWarningOutput(&stderr))
			require.NoError(t, err)
			require.NoError(t, p.Close())
			return strings.TrimSuffix(stderr.String(), "\n")
		},
		"Invalid asset key": func(t *testing.T) string {
			p, err := pipes.New(ctx, bootstrapFor(t, oneAsset, messagesFile(t)))
			require.NoError(t, err)
			defer p.Close()
			err = p.ReportAssetMaterialization(pipes.Materialization{AssetKey: "orders"})
			require.Error(t, err)
			return err.Error()
		},
		"Second materialization of an asset": func(t *testing.T) string {
			p, err := pipes.New(ctx, bootstrapFor(t, oneAsset, messagesFile(t)))
			require.NoError(t, err)
			defer p.Close()
			require.NoError(t, p.ReportAssetMaterialization(pipes.Materialization{}))
			err = p.ReportAssetMaterialization(pipes.Materialization{})
			require.ErrorIs(t, err, pipes.ErrAlreadyMaterialized)
			return err.Error()
		},
		"Dagster's side uses a blob store": func(t *testing.T) string {
			// The messages params of dagster-aws's PipesS3MessageReader.
			_, err := pipes.New(ctx, bootstrapFor(t, oneAsset, map[string]any{
				"bucket": "dagster-pipes", "key_prefix": "rmdbjbloEmNTAmpdZqmwdHlRcjATSd",
				"include_stdio_in_messages": false,
			}))
			require.Error(t, err)
			return err.Error()
		},
		"The context cannot be loaded": func(t *testing.T) string {
			// The temp file of PipesTempFileContextInjector, not on this
			// machine (the path of the real run; it does not exist here).
			_, err := pipes.New(ctx, bootstrapFor(t,
				map[string]any{"path": "/tmp/tmplw4thr5w/context"}, messagesFile(t)))
			require.ErrorIs(t, err, pipes.ErrInvalidContext)
			return err.Error()
		},
	}

	entries := readmeTroubleshooting(t)
	titles := make([]string, 0, len(entries))
	for title := range entries {
		titles = append(titles, title)
	}
	require.Len(t, entries, len(scenarios), "README troubleshooting entries: %q", titles)
	for title, produce := range scenarios {
		t.Run(title, func(t *testing.T) {
			want, ok := entries[title]
			require.True(t, ok, "README.md has no troubleshooting entry %q (it has %q)", title, titles)
			assert.Equal(t, want, produce(t))
		})
	}
}
