package pipes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

func logMsg(i int) Message {
	return Message{Method: MethodLog, Params: []byte(`{"message":"m` + strconv.Itoa(i) + `","level":"INFO"}`)}
}

// chunkStore records uploads; failN makes the next n uploads fail.
type chunkStore struct {
	mu      sync.Mutex
	chunks  map[int][]byte
	order   []int
	failN   int
	calls   int
	uploads chan int
}

func newChunkStore() *chunkStore {
	return &chunkStore{chunks: map[int][]byte{}, uploads: make(chan int, 1000)}
}

func (s *chunkStore) upload(_ context.Context, chunk []byte, index int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failN > 0 {
		s.failN--
		return errors.New("503 slow down")
	}
	s.chunks[index] = bytes.Clone(chunk)
	s.order = append(s.order, index)
	s.uploads <- index
	return nil
}

// messages returns all messages in chunk order, checking numbering has no gap.
func (s *chunkStore) messages(t *testing.T) []wireMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []wireMessage
	for i := 1; i <= len(s.chunks); i++ {
		c, ok := s.chunks[i]
		require.True(t, ok, "chunk %d missing: numbering has a gap", i)
		require.NotEqual(t, byte('\n'), c[len(c)-1], "chunk %d has a trailing newline", i)
		all = append(all, parseMessages(t, c)...)
	}
	return all
}

func TestFileChannelConcurrentWritesStayWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m")
	ch, err := NewFileChannel(path)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				big := strings.Repeat("x", 5000)
				assert.NoError(t, ch.WriteMessage(Message{Method: MethodReportCustomMessage, Params: []byte(fmt.Sprintf(`{"payload":"%d-%d-%s"}`, g, i, big))}))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, ch.Close())
	require.NoError(t, ch.Close(), "Close is idempotent")
	assert.Len(t, readMessages(t, path), 1600)
}

func TestBlobStoreChannelNumbersChunksAndFlushesOnClose(t *testing.T) {
	store := newChunkStore()
	ch := NewBlobStoreChannel(store.upload, BlobStoreOptions{Interval: 20 * time.Millisecond})
	require.NoError(t, ch.WriteMessage(logMsg(0)))
	<-store.uploads // first interval upload
	require.NoError(t, ch.WriteMessage(logMsg(1)))
	require.NoError(t, ch.WriteMessage(logMsg(2)))
	<-store.uploads
	require.NoError(t, ch.WriteMessage(Message{Method: MethodClosed, Params: []byte(`{}`)}))
	require.NoError(t, ch.Close())
	msgs := store.messages(t)
	assert.Equal(t, []string{"log", "log", "log", "closed"}, methods(msgs))
	assert.Equal(t, []int{1, 2, 3}, store.order)
	assert.ErrorIs(t, ch.WriteMessage(logMsg(3)), ErrClosed)
	require.NoError(t, ch.Close())
}

func TestBlobStoreChannelRetriesFailedChunkWithoutGap(t *testing.T) {
	store := newChunkStore()
	var failures []int
	ch := NewBlobStoreChannel(store.upload, BlobStoreOptions{
		Interval: time.Hour, // uploads only when flushed by hand
		OnError:  func(_ error, index int) { failures = append(failures, index) },
	})
	ctx := context.Background()
	require.NoError(t, ch.WriteMessage(logMsg(0)))
	store.failN = 2
	require.Error(t, ch.Flush(ctx))
	require.NoError(t, ch.WriteMessage(logMsg(1)))
	require.Error(t, ch.Flush(ctx))
	// Third attempt succeeds: the failed chunk goes first under number 1,
	// the newer message follows as chunk 2.
	require.NoError(t, ch.Flush(ctx))
	assert.Equal(t, []int{1, 2}, store.order)
	assert.Equal(t, []int{1, 1}, failures)
	require.NoError(t, ch.WriteMessage(logMsg(2)))
	require.NoError(t, ch.Close())
	msgs := store.messages(t)
	require.Len(t, msgs, 3)
	for i, m := range msgs {
		assert.Equal(t, "m"+strconv.Itoa(i), m.Params["message"])
	}
}

func TestBlobStoreChannelCloseRetriesThenReports(t *testing.T) {
	store := newChunkStore()
	ch := NewBlobStoreChannel(store.upload, BlobStoreOptions{Interval: time.Hour, FinalAttempts: 3})
	require.NoError(t, ch.WriteMessage(logMsg(0)))
	store.failN = 2 // two failures, the third final attempt succeeds
	require.NoError(t, ch.Close())
	assert.Len(t, store.messages(t), 1)

	store = newChunkStore()
	ch = NewBlobStoreChannel(store.upload, BlobStoreOptions{Interval: time.Hour, FinalAttempts: 2})
	require.NoError(t, ch.WriteMessage(logMsg(0)))
	store.failN = 100
	err := ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not delivered after 2 attempts")
	assert.Contains(t, err.Error(), "503 slow down")
}

func TestBlobStoreChannelManyMessages(t *testing.T) {
	store := newChunkStore()
	ch := NewBlobStoreChannel(store.upload, BlobStoreOptions{Interval: 5 * time.Millisecond})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2500 {
				assert.NoError(t, ch.WriteMessage(logMsg(g*10000+i)))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, ch.Close())
	msgs := store.messages(t)
	require.Len(t, msgs, 10000)
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.Params["message"].(string)] = true
	}
	assert.Len(t, seen, 10000)
}

func TestBufferedFilesystemChannel(t *testing.T) {
	dir := t.TempDir()
	ch := NewBufferedFilesystemChannel(dir, BlobStoreOptions{Interval: time.Hour})
	require.NoError(t, ch.WriteMessage(logMsg(0)))
	require.NoError(t, ch.Flush(context.Background()))
	require.NoError(t, ch.WriteMessage(logMsg(1)))
	require.NoError(t, ch.Close())
	for i, want := range []string{"m0", "m1"} {
		raw, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(i+1)+".json"))
		require.NoError(t, err)
		msgs := parseMessages(t, raw)
		require.Len(t, msgs, 1)
		assert.Equal(t, want, msgs[0].Params["message"])
	}
}

func TestStreamChannel(t *testing.T) {
	var buf bytes.Buffer
	ch := NewStreamChannel(&buf)
	require.NoError(t, ch.WriteMessage(logMsg(0)))
	require.NoError(t, ch.Close())
	assert.Equal(t, `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"m0","level":"INFO"}}`+"\n", buf.String())
}
