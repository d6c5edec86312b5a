package pipes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// halfWriter writes half of the next write and fails, once.
type halfWriter struct {
	bytes.Buffer
	failNext bool
}

func (w *halfWriter) Write(p []byte) (int, error) {
	if w.failNext {
		w.failNext = false
		n, _ := w.Buffer.Write(p[:len(p)/2])
		return n, errors.New("no space left on device")
	}
	return w.Buffer.Write(p)
}

// allMessageLines asserts that no line holds parts of two messages (a
// message glued onto a partial one), and returns the methods of the whole
// messages. A partial line alone is skipped by Dagster's stream readers.
func allMessageLines(t *testing.T, raw string) []string {
	t.Helper()
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(raw, "\n"), "\n") {
		require.LessOrEqual(t, strings.Count(l, "__dagster_pipes_version"), 1, "a message glued to a partial line: %q", l)
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			got = append(got, m["method"].(string))
		}
	}
	return got
}

// Regression (issue 10): a short write left half a line and the next
// message was glued onto it.
func TestStreamChannelShortWrite(t *testing.T) {
	w := &halfWriter{}
	ch := NewStreamChannel(w)
	require.NoError(t, ch.WriteMessage(Message{Method: MethodOpened, Params: []byte(`{"extras":{}}`)}))
	w.failNext = true
	err := ch.WriteMessage(Message{Method: MethodLog, Params: []byte(`{"message":"lost","level":"INFO"}`)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only partly written")
	assert.Contains(t, err.Error(), "no space left on device")
	require.NoError(t, ch.WriteMessage(Message{Method: MethodClosed, Params: []byte(`{}`)}))
	assert.Equal(t, []string{"opened", "closed"}, allMessageLines(t, w.String()))
}

func TestBufferedStreamChannelShortWrite(t *testing.T) {
	w := &halfWriter{failNext: true}
	ch := NewBufferedStreamChannel(w)
	require.NoError(t, ch.WriteMessage(Message{Method: MethodOpened, Params: []byte(`{"extras":{}}`)}))
	require.NoError(t, ch.WriteMessage(Message{Method: MethodLog, Params: []byte(`{"message":"kept","level":"INFO"}`)}))
	require.Error(t, ch.Flush())
	require.NoError(t, ch.WriteMessage(Message{Method: MethodClosed, Params: []byte(`{}`)}))
	require.NoError(t, ch.Close())
	assert.Equal(t, []string{"opened", "log", "closed"}, allMessageLines(t, w.String()), "the flush goes on where it stopped, nothing repeated")
}

// Regression (issue 10): DBFS and volumes chunks were written in place; a
// reader that saw a chunk file as soon as it existed read it empty.
func TestFilesystemChunksAppearWhole(t *testing.T) {
	dir := t.TempDir()
	const chunks = 30
	big := strings.Repeat("x", 1<<20)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var torn []string
	// A reader that reads every chunk the moment it exists, as Dagster's
	// DBFS reader does.
	wg.Go(func() {
		seen := map[string]bool{}
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := 1; i <= chunks; i++ {
				name := filepath.Join(dir, strconv.Itoa(i)+".json")
				if seen[name] {
					continue
				}
				b, err := os.ReadFile(name)
				if err != nil {
					continue
				}
				seen[name] = true
				if !json.Valid(b) {
					torn = append(torn, name+" ("+strconv.Itoa(len(b))+" bytes)")
				}
			}
		}
	})
	ch := NewBufferedFilesystemChannel(dir, BlobStoreOptions{Interval: time.Hour})
	for i := range chunks {
		require.NoError(t, ch.WriteMessage(Message{Method: MethodLog, Params: []byte(`{"message":"` + big + `","level":"INFO"}`)}))
		require.NoError(t, ch.Flush(context.Background()), "chunk %d", i+1)
	}
	require.NoError(t, ch.Close())
	close(stop)
	wg.Wait()
	assert.Empty(t, torn, "chunks seen before they were whole")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, chunks, "no temporary file is left behind")
}
