// Package slow has a test that takes longer than the -slow of
// testprogress_test.go.
package slow

import (
	"testing"
	"time"
)

func TestScenario(t *testing.T) {
	t.Run("quickstart", func(t *testing.T) { time.Sleep(300 * time.Millisecond) })
	t.Run("fast", func(t *testing.T) {})
}
