package azurepipes_test

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/internal/blobtest"
)

// BenchmarkHundredThousandMessages writes 100,000 messages through an
// Azure channel on Azurite, uploading every 100 ms, and closes it.
func BenchmarkHundredThousandMessages(b *testing.B) {
	blobtest.BenchHundredThousandMessages(b, store.NewBucket(b))
}

// BenchmarkMillionMessages writes 1,000,000 log messages (20,000 with
// -short) through an Azure channel on Azurite and closes it: messages/s and
// the peak live heap.
func BenchmarkMillionMessages(b *testing.B) {
	blobtest.BenchMillionMessages(b, store.NewBucket(b))
}
