package pipestest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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
