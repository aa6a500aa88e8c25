package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// BenchmarkPublishConcurrent publishes facility events from 16 goroutines, one delivery each (the
// ingest bench's load without HTTP, River or the deliveries' attempts), on each database.
func BenchmarkPublishConcurrent(b *testing.B) {
	for _, kind := range testdb.Kinds(b) {
		b.Run(string(kind), func(b *testing.B) {
			st := testdb.Open(b, kind, store.Config{})
			facilityWebhook(b, st, "s")
			var n atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for c := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := n.Add(1); i <= int64(b.N); i = n.Add(1) {
						if _, err := st.PublishEvent(context.Background(), store.PublishInput{Kind: store.EventKindFacility,
							EventType: "shift.created", FacilityID: "P-1", Data: json.RawMessage(fmt.Sprintf(`{"c":%d,"i":%d}`, c, i)),
							Publisher: "app"}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
