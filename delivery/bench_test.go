package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/delivery/deliverytest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// BenchmarkDeliveryThroughput measures end to end delivery: b.N events recorded (one delivery
// each, in its own transaction with its job) and sent to a local receiver by one engine with 20
// workers, until the last one is recorded as a success.
func BenchmarkDeliveryThroughput(b *testing.B) {
	for _, kind := range testdb.Kinds(b) {
		b.Run(string(kind), func(b *testing.B) {
			st := testdb.Open(b, kind, store.Config{})
			var received atomic.Int64
			rcv := newBenchReceiver(b, &received)
			deliverytest.Start(b, st, delivery.EngineConfig{Policy: delivery.TargetPolicy{Allow: loopback},
				PollInterval: 20 * time.Millisecond})
			ctx := context.Background()
			album, hook := benchAlbum(b, st, rcv)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := st.TriggerWebhook(ctx, album, hook, store.ManualTrigger{Event: store.EventNewUser, User: "bob"}, alice); err != nil {
					b.Fatal(err)
				}
			}
			deadline := time.Now().Add(5 * time.Minute)
			for {
				var done int64
				st.DB().Model(&store.Delivery{}).Where("status = ?", store.DeliverySuccess).Count(&done)
				if done == int64(b.N) {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d delivered", done, b.N)
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}

func newBenchReceiver(b *testing.B, n *atomic.Int64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	b.Cleanup(srv.Close)
	return srv.URL
}

func benchAlbum(b *testing.B, st *store.Store, url string) (string, string) {
	ctx := context.Background()
	for _, u := range []store.User{{Sub: "alice"}, {Sub: "bob"}} {
		if err := st.ProvisionUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	a, err := st.CreateAlbum(ctx, "alice", "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.AddMember(ctx, a.ID, "bob", alice); err != nil {
		b.Fatal(err)
	}
	w, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: a.ID, URL: url, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return a.ID, w.ID
}
