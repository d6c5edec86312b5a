package s3pipes_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// silentServer accepts connections and never answers: an S3 endpoint that
// hangs. No real server behaves like this on purpose, hence our own.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// Regression (issue 10): ContextLoader with context.Background() and an
// endpoint that never answers blocked Open for ever.
func TestContextLoaderTimeout(t *testing.T) {
	client := newClient(silentServer(t))
	l := s3pipes.ContextLoader{Client: client, Timeout: 300 * time.Millisecond}
	result := make(chan error, 1)
	go func() {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "context.json"})
		result <- err
	}()
	select {
	case err := <-result:
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "did not answer before the load deadline")
		assert.Contains(t, err.Error(), "s3://b/context.json")
	case <-time.After(time.Minute):
		t.Fatal("LoadContext did not return: the timeout does not bound it")
	}
}
