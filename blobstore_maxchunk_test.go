package pipes

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// MaxChunkSize splits what one interval queued into chunks of at most that
// size, at message boundaries, numbered without gaps; a larger message goes
// alone; a failed chunk is retried first, under its number.
func TestBlobStoreChannelMaxChunkSize(t *testing.T) {
	store := newChunkStore()
	const max = 300
	ch := NewBlobStoreChannel(store.upload, BlobStoreOptions{Interval: time.Hour, MaxChunkSize: max})
	msg := func(i, size int) Message {
		return Message{Method: MethodLog, Params: []byte(fmt.Sprintf(`{"message":"m%d %s","level":"INFO"}`, i, strings.Repeat("x", size)))}
	}
	for i := range 10 {
		require.NoError(t, ch.WriteMessage(msg(i, 50)))
	}
	require.NoError(t, ch.WriteMessage(msg(10, 1000))) // alone, larger than max
	require.NoError(t, ch.WriteMessage(msg(11, 10)))
	store.failN = 1
	require.Error(t, ch.Flush(context.Background()))
	require.NoError(t, ch.Flush(context.Background()))
	require.NoError(t, ch.Close())

	msgs := store.messages(t)
	require.Len(t, msgs, 12)
	for i, m := range msgs {
		assert.True(t, strings.HasPrefix(m.Params["message"].(string), fmt.Sprintf("m%d ", i)), "in order")
	}
	require.Greater(t, len(store.chunks), 4)
	for i, c := range store.chunks {
		if !strings.Contains(string(c), `"m10 `) {
			assert.LessOrEqual(t, len(c), max, "chunk %d", i)
		} else {
			assert.NotContains(t, string(c), "\n", "the large message goes alone")
		}
	}
}
