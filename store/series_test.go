package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm/logger"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/payload"
	"github.com/webhookd/webhookd/store"
)

// TestSeriesStatementCount: flushing, removing and triggering run as many statements for one
// series and one webhook as for many of each.
func TestSeriesStatementCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{NewSeriesDelay: time.Second})
		ctx := context.Background()
		alice := payload.KheopsUser{Sub: "alice", IsAdmin: true}
		if err := st.ProvisionUser(ctx, store.User{Sub: "alice"}); err != nil {
			t.Fatal(err)
		}
		counter := testdb.NewStatementCounter()
		// scenario builds an album with n webhooks (subscribed to everything) and a study of n
		// series, then counts the statements of each operation.
		scenario := func(n int) map[string]int64 {
			album, err := st.CreateAlbum(ctx, "alice", "a", "")
			if err != nil {
				t.Fatal(err)
			}
			var hook string
			for i := 0; i < n; i++ {
				w, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: album.ID, URL: "https://r.example.org", Name: "h",
					Events: store.EventSet(0).With(store.EventNewSeries).With(store.EventRemoveSeries), Enabled: true})
				if err != nil {
					t.Fatal(err)
				}
				hook = w.ID
			}
			var series []string
			for i := 0; i < n; i++ {
				series = append(series, fmt.Sprintf("1.2.3.%d", i+1))
				if _, err := st.AddSeries(ctx, album.ID, "1.2.3", series[i], alice); err != nil {
					t.Fatal(err)
				}
			}
			counts := map[string]int64{}
			measure := func(name string, fn func() error) {
				st.DB().Config.Logger = counter
				counter.Reset()
				err := fn()
				st.DB().Config.Logger = logger.Discard
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				counts[name] = counter.N()
			}
			measure("flush", func() error {
				fired, err := st.FlushNewSeries(ctx, album.ID, "1.2.3", time.Now().Add(time.Minute))
				if err == nil && !fired {
					err = errors.New("did not fire")
				}
				return err
			})
			measure("trigger", func() error {
				return st.TriggerWebhook(ctx, album.ID, hook, store.ManualTrigger{Event: store.EventNewSeries,
					StudyUID: "1.2.3", SeriesUIDs: series}, alice)
			})
			measure("remove study", func() error { return st.RemoveStudy(ctx, album.ID, "1.2.3", alice) })
			return counts
		}
		one, many := scenario(1), scenario(25)
		for name, n := range one {
			if many[name] != n {
				t.Errorf("%s: %d statements for 1 series and webhook, %d for 25", name, n, many[name])
			}
		}
		t.Logf("statements: %v", one)
	})
}

// TestSeriesErrors: the sentinels the handlers map to 404s.
func TestSeriesErrors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		src := payload.KheopsUser{Sub: "alice"}
		album := aliceAlbum(t, st, "a")
		hook, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: album.ID, URL: "https://r.example.org", Name: "h"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddSeries(ctx, "0000000000", "1.2", "1.2.3", src); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("add to an unknown album: %v", err)
		}
		if added, err := st.AddSeries(ctx, album.ID, "1.2", "1.2.3", src); !added || err != nil {
			t.Fatalf("add: %v %v", added, err)
		}
		tests := []struct {
			name string
			err  error
			want error
		}{
			{"remove an unknown series", st.RemoveSeries(ctx, album.ID, "1.2", "1.2.4", src), store.ErrSeriesNotFound},
			{"remove an unknown study", st.RemoveStudy(ctx, album.ID, "1.3", src), store.ErrSeriesNotFound},
			{"trigger an unknown series", st.TriggerWebhook(ctx, album.ID, hook.ID,
				store.ManualTrigger{Event: store.EventNewSeries, StudyUID: "1.2", SeriesUIDs: []string{"1.2.3", "1.2.4"}}, src), store.ErrSeriesNotFound},
			{"trigger no series", st.TriggerWebhook(ctx, album.ID, hook.ID,
				store.ManualTrigger{Event: store.EventNewSeries, StudyUID: "1.2"}, src), store.ErrSeriesNotFound},
			{"trigger an unknown user", st.TriggerWebhook(ctx, album.ID, hook.ID,
				store.ManualTrigger{Event: store.EventNewUser, User: "nobody"}, src), store.ErrUserNotFound},
			{"trigger a webhook of another album", st.TriggerWebhook(ctx, "0000000000", hook.ID,
				store.ManualTrigger{Event: store.EventNewUser, User: "alice"}, src), store.ErrWebhookNotFound},
		}
		for _, tt := range tests {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
			}
		}
		if err := st.TriggerWebhook(ctx, album.ID, hook.ID, store.ManualTrigger{Event: store.EventDeleteAlbum}, src); err == nil {
			t.Error("a manual delete_album was accepted")
		}
	})
}
