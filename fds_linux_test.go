//go:build linux

package pipes

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

// Descriptor counts around open/close cycles (issue 10, CI): every writer
// kind, with stdio capture on (it duplicates stdout and stderr), gives back
// every descriptor it took.
func TestOpenCloseCyclesLeakNoDescriptors(t *testing.T) {
	dir := t.TempDir()
	for name, msgParams := range map[string]map[string]any{
		"file":          {"path": filepath.Join(dir, "messages")},
		"file+stdio":    {"path": filepath.Join(dir, "messages-stdio"), "include_stdio_in_messages": true},
		"buffered":      {"buffered_stdio": "stderr"},
		"chunks+stdio":  {"path": dir, "include_stdio_in_messages": true},
		"context error": {"path": filepath.Join(dir, "messages-bad")},
	} {
		t.Run(name, func(t *testing.T) {
			ctxParams := map[string]any{"data": testData("a")}
			if name == "context error" {
				ctxParams = map[string]any{"path": filepath.Join(dir, "no-such-context")}
			}
			boot := bootstrap(t, ctxParams, msgParams)
			opts := []Option{WithParamsLoader(MappingParamsLoader{Mapping: boot})}
			switch name {
			case "chunks+stdio":
				opts = append(opts, WithMessageWriter(VolumesMessageWriter{}))
			case "buffered":
				opts = append(opts, WithMessageWriter(DefaultMessageWriter{Stderr: io.Discard}))
			}
			cycle := func() {
				p, err := New(context.Background(), opts...)
				if name == "context error" {
					require.Error(t, err)
					return
				}
				require.NoError(t, err)
				require.NoError(t, p.ReportCustomMessage(1))
				require.NoError(t, p.Close())
			}
			cycle() // warm up: lazily opened runtime descriptors (epoll) are not leaks
			before := openFDs(t)
			for range 50 {
				cycle()
			}
			assert.Equal(t, before, openFDs(t), "descriptors leaked by open/close cycles")
		})
	}
}
