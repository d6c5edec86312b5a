// Package sample is a test package whose results testprogress_test.go
// knows: one pass, one failure with a subtest, one skip.
package sample

import "testing"

func TestPass(t *testing.T) { t.Log("not shown when passing") }

func TestFail(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("broken", func(t *testing.T) { t.Error("boom") })
}

func TestSkip(t *testing.T) { t.Skip("needs PIPES_E2E=1") }
