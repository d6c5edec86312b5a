package pipestest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func TestChannelConformanceOfRootChannels(t *testing.T) {
	t.Run("FileChannel", func(t *testing.T) {
		pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
			path := filepath.Join(t.TempDir(), "messages")
			ch, err := pipes.NewFileChannel(path)
			require.NoError(t, err)
			return pipestest.ChannelHarness{Channel: ch, ReadBack: func() ([]byte, error) { return os.ReadFile(path) }}
		})
	})
	t.Run("StreamChannel", func(t *testing.T) {
		pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
			var buf syncBuffer
			return pipestest.ChannelHarness{Channel: pipes.NewStreamChannel(&buf), ReadBack: func() ([]byte, error) { return buf.Bytes(), nil }}
		})
	})
	t.Run("BufferedStreamChannel", func(t *testing.T) {
		pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
			var buf syncBuffer
			return pipestest.ChannelHarness{Channel: pipes.NewBufferedStreamChannel(&buf), ReadBack: func() ([]byte, error) { return buf.Bytes(), nil }}
		})
	})
	t.Run("BlobStoreChannel", func(t *testing.T) {
		pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
			var mu sync.Mutex
			chunks := map[int][]byte{}
			upload := func(_ context.Context, chunk []byte, index int) error {
				mu.Lock()
				defer mu.Unlock()
				chunks[index] = bytes.Clone(chunk)
				return nil
			}
			ch := pipes.NewBlobStoreChannel(upload, pipes.BlobStoreOptions{})
			return pipestest.ChannelHarness{Channel: ch, ReadBack: func() ([]byte, error) {
				mu.Lock()
				defer mu.Unlock()
				var idx []int
				for i := range chunks {
					idx = append(idx, i)
				}
				sort.Ints(idx)
				var parts [][]byte
				for n, i := range idx {
					if i != n+1 {
						return nil, fmt.Errorf("chunk numbers %v have a gap", idx)
					}
					parts = append(parts, chunks[i])
				}
				return bytes.Join(parts, []byte("\n")), nil
			}}
		})
	})
}

func TestMessageWriterConformanceOfDefaultWriter(t *testing.T) {
	t.Run("path", func(t *testing.T) {
		pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
			path := filepath.Join(t.TempDir(), "messages")
			return pipestest.WriterHarness{
				Writer:   pipes.DefaultMessageWriter{},
				Params:   pipes.Params{"path": path},
				ReadBack: func() ([]byte, error) { return os.ReadFile(path) },
			}
		})
	})
	t.Run("stdio", func(t *testing.T) {
		pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
			var buf syncBuffer
			return pipestest.WriterHarness{
				Writer:   pipes.DefaultMessageWriter{Stdout: &buf},
				Params:   pipes.Params{"stdio": "stdout"},
				ReadBack: func() ([]byte, error) { return buf.Bytes(), nil },
			}
		})
	})
}

func TestContextLoaderConformanceOfDefaultLoader(t *testing.T) {
	t.Run("path", func(t *testing.T) {
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			path := filepath.Join(t.TempDir(), "context")
			require.NoError(t, os.WriteFile(path, data, 0o600))
			return pipes.DefaultContextLoader{}, pipes.Params{"path": path}
		})
	})
	t.Run("data", func(t *testing.T) {
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			// As the loader gets it: decoded from a bootstrap value.
			enc, err := pipes.EncodeParam(map[string]any{"data": json.RawMessage(data)})
			require.NoError(t, err)
			params, err := pipes.MappingParamsLoader{Mapping: map[string]string{pipes.ContextEnvVar: enc}}.LoadContextParams()
			require.NoError(t, err)
			return pipes.DefaultContextLoader{}, params
		})
	})
}

// chunkDir reads back the chunks "1.json", "2.json", … of a directory,
// joined by "\n", and fails on a gap or a stray file.
func chunkDir(dir string) ([]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var parts [][]byte
	for i := range entries {
		b, err := os.ReadFile(filepath.Join(dir, pipes.ChunkKey("", i+1)))
		if err != nil {
			return nil, fmt.Errorf("chunks %v: %w", entries, err)
		}
		parts = append(parts, b)
	}
	return bytes.Join(parts, []byte("\n")), nil
}

func TestChannelConformanceOfBufferedFilesystemChannel(t *testing.T) {
	pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
		dir := t.TempDir()
		ch := pipes.NewBufferedFilesystemChannel(dir, pipes.BlobStoreOptions{Interval: 5 * time.Millisecond})
		return pipestest.ChannelHarness{Channel: ch, ReadBack: func() ([]byte, error) { return chunkDir(dir) }}
	})
}

func TestMessageWriterConformanceOfDatabricksWriters(t *testing.T) {
	t.Run("DBFS", func(t *testing.T) {
		pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
			root := t.TempDir()
			// Dagster's DBFS reader creates the directory; the writer
			// sees it through the /dbfs mount (here: root).
			require.NoError(t, os.MkdirAll(filepath.Join(root, "tmp", "msgs"), 0o755))
			return pipestest.WriterHarness{
				Writer:   pipes.DBFSMessageWriter{Root: root, ClusterDriverLogRoot: "dbfs:/logs"},
				Params:   pipes.Params{"path": "/tmp/msgs"},
				ReadBack: func() ([]byte, error) { return chunkDir(filepath.Join(root, "tmp", "msgs")) },
			}
		})
	})
	t.Run("volumes", func(t *testing.T) {
		pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
			dir := t.TempDir()
			return pipestest.WriterHarness{
				Writer:   pipes.VolumesMessageWriter{Options: pipes.BlobStoreOptions{Interval: 5 * time.Millisecond}},
				Params:   pipes.Params{"path": dir},
				ReadBack: func() ([]byte, error) { return chunkDir(dir) },
			}
		})
	})
}

// recordedTexts is an slog handler that keeps the text of every record, as
// Prefect's API would receive them.
type recordedTexts struct {
	mu    sync.Mutex
	texts []string
}

func (h *recordedTexts) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordedTexts) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.texts = append(h.texts, r.Message)
	return nil
}
func (h *recordedTexts) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordedTexts) WithGroup(string) slog.Handler      { return h }

func TestMessageWriterConformanceOfPrefectWriter(t *testing.T) {
	pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
		h := &recordedTexts{}
		return pipestest.WriterHarness{
			Writer: pipes.PrefectLogsMessageWriter{Logger: slog.New(h)},
			Params: pipes.Params{"prefect_logs": true},
			ReadBack: func() ([]byte, error) {
				h.mu.Lock()
				defer h.mu.Unlock()
				return []byte(strings.Join(h.texts, "\n")), nil
			},
		}
	})
}

func TestContextLoaderConformanceOfDatabricksLoaders(t *testing.T) {
	t.Run("DBFS", func(t *testing.T) {
		root := t.TempDir()
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			name := filepath.Base(t.TempDir()) + ".json"
			require.NoError(t, os.WriteFile(filepath.Join(root, name), data, 0o600))
			return pipes.DBFSContextLoader{Root: root}, pipes.Params{"path": "/" + name}
		})
	})
	t.Run("volumes", func(t *testing.T) {
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			path := filepath.Join(t.TempDir(), "context.json")
			require.NoError(t, os.WriteFile(path, data, 0o600))
			return pipes.VolumesContextLoader{}, pipes.Params{"path": path}
		})
	})
}

// Broken implementations, run in a child process (the kit fails its test,
// which must not fail this one).

// retainingChannel keeps the caller's Params buffer: the bug the contract
// warns about.
type retainingChannel struct {
	mu   sync.Mutex
	msgs []pipes.Message
	out  *syncBuffer
}

func (c *retainingChannel) WriteMessage(m pipes.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *retainingChannel) Close() error {
	for _, m := range c.msgs {
		_, _ = c.out.Write(append(m.AppendJSON(nil), '\n'))
	}
	return nil
}

// unclosableChannel keeps writing after Close, silently.
type unclosableChannel struct{ out *syncBuffer }

func (c unclosableChannel) WriteMessage(m pipes.Message) error {
	_, err := c.out.Write(append(m.AppendJSON(nil), '\n'))
	return err
}

func (c unclosableChannel) Close() error { return nil }

// interleavingChannel writes a message in two Write calls without a lock.
// To make the interleaving certain, the first call waits between its two
// writes until a second call has written its first half (so it is run only
// on the concurrent-writes check).
type interleavingChannel struct {
	out    *syncBuffer
	calls  atomic.Int32
	second chan struct{}
}

func (c *interleavingChannel) WriteMessage(m pipes.Message) error {
	b := append(m.AppendJSON(nil), '\n')
	_, _ = c.out.Write(b[:len(b)/2])
	switch c.calls.Add(1) {
	case 1:
		<-c.second
	case 2:
		close(c.second)
	}
	_, _ = c.out.Write(b[len(b)/2:])
	return nil
}

func (c *interleavingChannel) Close() error { return nil }

// lossyLoader drops extras.
type lossyLoader struct{}

func (lossyLoader) LoadContext(ctx context.Context, p pipes.Params) (*pipes.ContextData, error) {
	d, err := pipes.DefaultContextLoader{}.LoadContext(ctx, p)
	if err == nil {
		d.Extras = map[string]any{}
	}
	return d, err
}

func TestBrokenImplementationsHelper(t *testing.T) {
	switch os.Getenv("PIPESTEST_BROKEN") {
	case "retaining":
		pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
			buf := &syncBuffer{}
			return pipestest.ChannelHarness{Channel: &retainingChannel{out: buf}, ReadBack: func() ([]byte, error) { return buf.Bytes(), nil }}
		})
	case "interleaving":
		pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
			buf := &syncBuffer{}
			return pipestest.ChannelHarness{Channel: &interleavingChannel{out: buf, second: make(chan struct{})}, ReadBack: func() ([]byte, error) { return buf.Bytes(), nil }}
		})
	case "unclosable":
		pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
			buf := &syncBuffer{}
			return pipestest.ChannelHarness{Channel: unclosableChannel{out: buf}, ReadBack: func() ([]byte, error) { return buf.Bytes(), nil }}
		})
	case "lossy":
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			path := filepath.Join(t.TempDir(), "context")
			require.NoError(t, os.WriteFile(path, data, 0o600))
			return lossyLoader{}, pipes.Params{"path": path}
		})
	default:
		t.Skip("run by TestConformanceCatchesBrokenImplementations")
	}
}

func TestConformanceCatchesBrokenImplementations(t *testing.T) {
	for _, tc := range []struct{ kind, failing, msg string }{
		{"retaining", "params_buffer_reused", `XXXXX`},
		{"interleaving", "concurrent_writes", "is not a whole JSON message"},
		{"lossy", "full", "LoadContext:"},
		{"unclosable", "write_after_close", "want an error matching pipes.ErrClosed"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			run := "^TestBrokenImplementationsHelper$"
			if tc.kind == "interleaving" {
				run += "/^concurrent_writes$"
			}
			cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.v")
			cmd.Env = append(os.Environ(), "PIPESTEST_BROKEN="+tc.kind)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the kit must fail a broken implementation:\n%s", out)
			assert.Contains(t, string(out), "--- FAIL: TestBrokenImplementationsHelper/"+tc.failing)
			assert.Contains(t, string(out), tc.msg)
			if tc.kind == "retaining" {
				assert.NotContains(t, string(out), "--- FAIL: TestBrokenImplementationsHelper/order", "a correct behaviour is not flagged")
			}
			if t.Failed() {
				t.Log(strings.TrimSpace(string(out)))
			}
		})
	}
}
