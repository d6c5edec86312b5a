package testserver

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWaitReadyWhenTheProcessExits(t *testing.T) {
	p, err := Start(exec.Command("sh", "-c", "echo no module here; exit 3"))
	require.NoError(t, err)
	defer p.Stop(0)
	err = p.WaitReady("http://127.0.0.1:1/", 10*time.Second)
	require.ErrorIs(t, err, ErrExited)
	assert.Contains(t, err.Error(), "no module here")
	assert.Contains(t, p.Output(), "no module here")
}

func TestWaitReadyAndStop(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	p, err := Start(exec.Command("sleep", "60"))
	require.NoError(t, err)
	require.NoError(t, p.WaitReady(srv.URL, 10*time.Second), "any HTTP answer means ready")
	p.Stop(5 * time.Second) // SIGTERM ends sleep
	p.Stop(0)               // again: nothing to do
	select {
	case <-p.exited:
	default:
		t.Fatal("Stop returned before the process exited")
	}
}

func TestLaunchAndShared(t *testing.T) {
	unavailable := errors.New("unavailable")
	calls := 0
	_, err := Launch(unavailable, func() (int, error) { calls++; return 0, errors.New("port taken") })
	require.Error(t, err)
	assert.Equal(t, 3, calls, "a lost port is retried")
	calls = 0
	_, err = Launch(unavailable, func() (int, error) { calls++; return 0, unavailable })
	require.ErrorIs(t, err, unavailable)
	assert.Equal(t, 1, calls, "a missing server is not")

	var s Shared[int]
	stopped := 0
	s.Stop(func(int) { stopped++ })
	assert.Equal(t, 0, stopped, "nothing launched, nothing stopped")
	for range 2 {
		v, err := s.Get(func() (int, error) { calls++; return 7, nil })
		require.NoError(t, err)
		assert.Equal(t, 7, v)
	}
	assert.Equal(t, 2, calls, "launched once")
	s.Stop(func(v int) { stopped += v })
	assert.Equal(t, 7, stopped)
}
