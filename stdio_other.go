//go:build !unix

package pipes

import (
	"errors"
	"time"
)

type capture struct{}

func (*capture) stop() {}

func startCapture(int, string, time.Duration, func(string, []byte)) (*capture, error) {
	return nil, errors.New("stdio capture is supported on Unix systems only")
}
