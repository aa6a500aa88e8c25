package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// BenchmarkListWebhooks measures GET /albums/{id}/webhooks over HTTP with 100 webhooks of 20
// or 500 deliveries each, for pages of 10 and 100: the time must not grow with the histories.
func BenchmarkListWebhooks(b *testing.B) {
	for _, kind := range testdb.Kinds(b) {
		for _, history := range []int{20, 500} {
			benchmarkListWebhooks(b, kind, history)
		}
	}
}

func benchmarkListWebhooks(b *testing.B, kind testdb.Kind, history int) {
	{
		env := apitest.New(b, kind, apitest.Options{})
		tok := env.Token(auth.TokenRequest{Subject: "alice"})
		ctx := context.Background()
		// A plain client: the contract-validating one would dominate the measurement.
		c, err := gen.NewClientWithResponses(env.Server.URL, gen.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+tok)
			return nil
		}))
		if err != nil {
			b.Fatal(err)
		}
		res, err := c.CreateAlbumWithFormdataBodyWithResponse(ctx, nil, gen.CreateAlbumFormdataRequestBody{Name: "bench"})
		if err != nil || res.JSON201 == nil {
			b.Fatal(err)
		}
		album := res.JSON201.AlbumId
		for i := 0; i < 100; i++ {
			v, err := env.Store.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: album, URL: "https://r.example.org", Name: "h", Enabled: true})
			if err != nil {
				b.Fatal(err)
			}
			rows := make([]store.Delivery, history)
			for j := range rows {
				rows[j] = store.Delivery{ID: store.RandomString(30), Family: store.FamilyKheops, WebhookID: v.ID, Event: "new_user",
					URL: "https://r.example.org", Payload: "{}", Status: store.DeliverySuccess, MaxAttempts: 5,
					CreatedAt: v.CreatedAt.Add(time.Duration(j) * time.Second)}
			}
			if err := env.Store.DB().CreateInBatches(&rows, 100).Error; err != nil {
				b.Fatal(err)
			}
			if err := env.Store.RecountTriggers(ctx, v.ID); err != nil {
				b.Fatal(err)
			}
		}
		for _, size := range []int{10, 100} {
			b.Run(fmt.Sprintf("%s/history=%d/page=%d", kind, history, size), func(b *testing.B) {
				limit := size
				for i := 0; i < b.N; i++ {
					r, err := c.ListWebhooksWithResponse(ctx, album, &gen.ListWebhooksParams{Limit: &limit})
					if err != nil || r.StatusCode() != http.StatusOK || len(*r.JSON200) != size {
						b.Fatalf("%v %d", err, r.StatusCode())
					}
				}
			})
		}
	}
}
