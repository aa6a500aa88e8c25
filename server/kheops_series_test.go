package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// newSeriesDelay is the quiet time of the tests' stores (the default).
const newSeriesDelay = 30 * time.Second

// Users as the requests describe them.
const (
	aliceJSON = `{"email":"alice@example.org","name":"Alice","sub":"alice","is_admin":true}`
	bobJSON   = `{"email":"bob@example.org","name":"Bob","sub":"bob","is_admin":false}`
	carolJSON = `{"email":"carol@example.org","name":"Carol","sub":"carol","is_admin":false}`
)

// fakeEngine is a store.Enqueuer that records what the store asks of the delivery engine.
type fakeEngine struct {
	mu       sync.Mutex
	enqueued []string
	resends  []string
	flushes  []flushCall
}

type flushCall struct {
	album, study string
	at           time.Time
}

func (f *fakeEngine) EnqueueDeliveries(_ context.Context, tx *sql.Tx, refs []store.DeliveryRef) error {
	if tx == nil {
		return fmt.Errorf("EnqueueDeliveries outside a transaction")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range refs {
		f.enqueued = append(f.enqueued, r.ID)
	}
	return nil
}

func (f *fakeEngine) EnqueueResends(_ context.Context, tx *sql.Tx, refs []store.DeliveryRef) error {
	if tx == nil {
		return fmt.Errorf("EnqueueResends outside a transaction")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range refs {
		f.resends = append(f.resends, r.ID)
	}
	return nil
}

func (f *fakeEngine) resentIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.resends)
}

func (f *fakeEngine) DeliveriesCommitted() {}

func (f *fakeEngine) ScheduleSeriesFlush(_ context.Context, tx *sql.Tx, albumID, studyUID string, at time.Time) error {
	if tx == nil {
		return fmt.Errorf("ScheduleSeriesFlush outside a transaction")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes = append(f.flushes, flushCall{albumID, studyUID, at})
	return nil
}

func (f *fakeEngine) flushCalls() []flushCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.flushes)
}

func (f *fakeEngine) enqueuedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.enqueued)
}

// newKheopsEngine is the Kheops fixture with a fake delivery engine installed in its store.
func newKheopsEngine(t *testing.T, kind testdb.Kind) (*kheops, *fakeEngine) {
	t.Helper()
	eng := &fakeEngine{}
	k := newKheops(t, kind, apitest.Options{
		Store: store.Config{NewSeriesDelay: newSeriesDelay},
		Setup: func(t testing.TB, st *store.Store) { st.SetEnqueuer(eng) },
	})
	return k, eng
}

// sentDelivery is a recorded delivery with its decoded body.
type sentDelivery struct {
	store.Delivery
	Body map[string]any
}

// deliveries reads every recorded delivery, oldest first.
func (k *kheops) deliveries(t *testing.T) []sentDelivery {
	t.Helper()
	var rows []store.Delivery
	if err := k.env.Store.DB().Order("created_at, id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := make([]sentDelivery, len(rows))
	for i, d := range rows {
		out[i].Delivery = d
		if err := json.Unmarshal([]byte(d.Payload), &out[i].Body); err != nil {
			t.Fatalf("payload of %s: %v: %s", d.ID, err, d.Payload)
		}
	}
	return out
}

// deliveriesOf reads the recorded deliveries of one event, oldest first.
func (k *kheops) deliveriesOf(t *testing.T, event string) []sentDelivery {
	t.Helper()
	var out []sentDelivery
	for _, d := range k.deliveries(t) {
		if d.Event == event {
			out = append(out, d)
		}
	}
	return out
}

// checkBody compares a request body with the expected JSON, exactly; event_time, which varies,
// must be a UTC time with milliseconds and is left out of the comparison.
func checkBody(t *testing.T, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expected body %s: %v", want, err)
	}
	g := make(map[string]any, len(got))
	for key, v := range got {
		g[key] = v
	}
	et, _ := g["event_time"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", et); err != nil {
		t.Errorf("event_time %q: %v", et, err)
	}
	delete(g, "event_time")
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		t.Errorf("body\n got %s\nwant %s", gb, wb)
	}
}

// eventHooks creates, for event, a webhook that must fire (enabled, subscribed) and three that
// must not: disabled, subscribed to every other event, and one in another album of alice's.
func (k *kheops) eventHooks(t *testing.T, event string) (fires string, silent []string) {
	t.Helper()
	var others []string
	for _, e := range store.KheopsEvents {
		if string(e) != event {
			others = append(others, string(e))
		}
	}
	fires = k.createWebhook(t, url.Values{"url": {"https://r.example.org/fires"}, "event": {event}, "secret": {"s"}}).Id
	silent = append(silent,
		k.createWebhook(t, url.Values{"event": {event}, "enabled": {"false"}}).Id,
		k.createWebhook(t, url.Values{"event": others}).Id)
	other := k.createAlbum(t, k.alice, "Other")
	res, body := k.form(t, "POST", "/albums/"+other+"/webhooks", k.aliceTok,
		url.Values{"url": {"https://r.example.org/other"}, "name": {"other"}, "event": {"new_series", "remove_series", "new_user", "delete_album"}})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("webhook of another album: %d %s", res.StatusCode, body)
	}
	var w struct{ ID string }
	_ = json.Unmarshal(body, &w)
	return fires, append(silent, w.ID)
}

// seriesPath is the path of a series in an album.
func seriesPath(study, series, album string) string {
	return "/studies/" + url.PathEscape(study) + "/series/" + url.PathEscape(series) + "/albums/" + album
}

// addSeries shares a series through the API and checks the status.
func (k *kheops) addSeries(t *testing.T, token, study, series string, want int) {
	t.Helper()
	res, body := k.form(t, "PUT", seriesPath(study, series, k.album), token, nil)
	if res.StatusCode != want {
		t.Fatalf("PUT %s/%s: %d %s, want %d", study, series, res.StatusCode, body, want)
	}
}

func (k *kheops) flush(t *testing.T, study string, now time.Time) bool {
	t.Helper()
	fired, err := k.env.Store.FlushNewSeries(context.Background(), k.album, study, now)
	if err != nil {
		t.Fatal(err)
	}
	return fired
}

// TestKheopsEventSources proves that each event source fires once for the enabled webhooks of
// the album subscribed to it, and for no other, with the body of reference/kheops.md.
func TestKheopsEventSources(t *testing.T) {
	const study, s1, s2 = "1.2.840.113619.2.55", "1.2.840.113619.2.55.3", "1.2.840.113619.2.55.10"
	tests := []struct {
		name  string
		event string
		// act causes the event; it may share series beforehand.
		act func(t *testing.T, k *kheops)
		// body is the expected body, album id as %[1]s.
		body string
		// refs checks what the delivery concerns (the trigger history).
		user   string
		study  string
		series string
	}{
		{
			name: "new_user: a non-member is added", event: "new_user",
			act: func(t *testing.T, k *kheops) {
				if res, _ := k.alice.AddAlbumUserWithResponse(context.Background(), k.album, "carol@example.org", nil); res.StatusCode() != http.StatusCreated {
					t.Fatalf("add carol: %d", res.StatusCode())
				}
			},
			body: `{"host":"http://webhookd.test","album_id":"%[1]s","source":` + aliceJSON + `,"is_manual_trigger":false,"new_user":` + carolJSON + `}`,
			user: "carol",
		},
		{
			name: "new_series: series added, study quiet", event: "new_series",
			act: func(t *testing.T, k *kheops) {
				k.addSeries(t, k.bobTok, study, s2, http.StatusCreated)
				k.addSeries(t, k.aliceTok, study, s1, http.StatusCreated)
				if !k.flush(t, study, time.Now().Add(newSeriesDelay+time.Second)) {
					t.Fatal("flush did not fire")
				}
			},
			body: `{"host":"http://webhookd.test","album_id":"%[1]s","source":` + aliceJSON + `,"is_manual_trigger":false,
				"import_source":"send","updated_study":{"study_uid":"` + study + `","retrieve_url":"http://webhookd.test/api/studies/` + study + `",
				"series":[{"series_uid":"` + s1 + `","retrieve_url":"http://webhookd.test/api/studies/` + study + `/series/` + s1 + `"},
				{"series_uid":"` + s2 + `","retrieve_url":"http://webhookd.test/api/studies/` + study + `/series/` + s2 + `"}]}}`,
			study: study, series: `["` + s1 + `","` + s2 + `"]`,
		},
		{
			name: "remove_series: one series", event: "remove_series",
			act: func(t *testing.T, k *kheops) {
				k.addSeries(t, k.bobTok, study, s1, http.StatusCreated)
				k.addSeries(t, k.bobTok, study, s2, http.StatusCreated)
				if res, body := k.form(t, "DELETE", seriesPath(study, s2, k.album), k.aliceTok, nil); res.StatusCode != http.StatusNoContent {
					t.Fatalf("remove series: %d %s", res.StatusCode, body)
				}
			},
			body: `{"host":"http://webhookd.test","album_id":"%[1]s","source":` + aliceJSON + `,"is_manual_trigger":false,
				"remove_all_series":false,"removed_study":{"study_uid":"` + study + `","series":[{"series_uid":"` + s2 + `"}]}}`,
			study: study, series: `["` + s2 + `"]`,
		},
		{
			name: "remove_series: a whole study", event: "remove_series",
			act: func(t *testing.T, k *kheops) {
				k.addSeries(t, k.bobTok, study, s2, http.StatusCreated)
				k.addSeries(t, k.bobTok, study, s1, http.StatusCreated)
				k.addSeries(t, k.bobTok, "1.2.3", "1.2.3.4", http.StatusCreated) // another study stays
				if res, body := k.form(t, "DELETE", "/studies/"+study+"/albums/"+k.album, k.aliceTok, nil); res.StatusCode != http.StatusNoContent {
					t.Fatalf("remove study: %d %s", res.StatusCode, body)
				}
			},
			body: `{"host":"http://webhookd.test","album_id":"%[1]s","source":` + aliceJSON + `,"is_manual_trigger":false,
				"remove_all_series":true,"removed_study":{"study_uid":"` + study + `","series":[{"series_uid":"` + s1 + `"},{"series_uid":"` + s2 + `"}]}}`,
			study: study, series: `["` + s1 + `","` + s2 + `"]`,
		},
		{
			name: "delete_album", event: "delete_album",
			act: func(t *testing.T, k *kheops) {
				if res, _ := k.alice.DeleteAlbumWithResponse(context.Background(), k.album, nil); res.StatusCode() != http.StatusNoContent {
					t.Fatalf("delete album: %d", res.StatusCode())
				}
			},
			body: `{"host":"http://webhookd.test","album_id":"%[1]s","source":` + aliceJSON + `,"is_manual_trigger":false}`,
		},
	}
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k, eng := newKheopsEngine(t, kind)
				fires, silent := k.eventHooks(t, tt.event)
				tt.act(t, k)

				got := k.deliveries(t)
				if len(got) != 1 {
					t.Fatalf("%d deliveries, want 1 (to %s only; silent: %v): %+v", len(got), fires, silent, got)
				}
				d := got[0]
				if d.WebhookID != fires || d.Event != tt.event || d.IsManual || d.Family != store.FamilyKheops ||
					d.URL != "https://r.example.org/fires" || d.Secrets != `["s"]` || d.Status != store.DeliveryPending || d.MaxAttempts != 5 {
					t.Errorf("delivery %+v", d.Delivery)
				}
				if deref(d.UserSub) != tt.user || deref(d.StudyUID) != tt.study || deref(d.SeriesUIDs) != tt.series {
					t.Errorf("refs user %q study %q series %q, want %q %q %q", deref(d.UserSub), deref(d.StudyUID),
						deref(d.SeriesUIDs), tt.user, tt.study, tt.series)
				}
				checkBody(t, d.Body, fmt.Sprintf(tt.body, k.album))
				if ids := eng.enqueuedIDs(); len(ids) != 1 || ids[0] != d.ID {
					t.Errorf("enqueued %v, want [%s]", ids, d.ID)
				}
			})
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestKheopsEventsThatDoNotFire: re-adding a member, promoting one, re-adding a series, and
// anything to an album whose webhooks are not subscribed, fire nothing.
func TestKheopsEventsThatDoNotFire(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k, eng := newKheopsEngine(t, kind)
		ctx := context.Background()
		k.createWebhook(t, url.Values{"event": {"new_user", "new_series"}})
		if res, _ := k.alice.AddAlbumUserWithResponse(ctx, k.album, "bob", nil); res.StatusCode() != http.StatusNoContent {
			t.Errorf("re-add bob: %d", res.StatusCode())
		}
		if res, _ := k.alice.PromoteAlbumAdminWithResponse(ctx, k.album, "bob", nil); res.StatusCode() != http.StatusNoContent {
			t.Errorf("promote bob: %d", res.StatusCode())
		}
		k.addSeries(t, k.aliceTok, "1.2.3", "1.2.3.4", http.StatusCreated)
		k.addSeries(t, k.aliceTok, "1.2.3", "1.2.3.4", http.StatusNoContent)
		if n := len(eng.flushCalls()); n != 1 {
			t.Errorf("re-adding a series scheduled a flush: %d calls", n)
		}
		if got := k.deliveries(t); len(got) != 0 {
			t.Errorf("deliveries: %+v", got)
		}
		// Removing and deleting with webhooks subscribed only to new_user and new_series: nothing.
		if res, _ := k.form(t, "DELETE", "/studies/1.2.3/albums/"+k.album, k.aliceTok, nil); res.StatusCode != http.StatusNoContent {
			t.Errorf("remove study: %d", res.StatusCode)
		}
		if k.flush(t, "1.2.3", time.Now().Add(time.Hour)) {
			t.Error("a removed series was flushed")
		}
		if res, _ := k.alice.DeleteAlbumWithResponse(ctx, k.album, nil); res.StatusCode() != http.StatusNoContent {
			t.Errorf("delete album: %d", res.StatusCode())
		}
		if got := k.deliveries(t); len(got) != 0 {
			t.Errorf("deliveries: %+v", got)
		}
	})
}

// TestDeleteAlbumDeliveriesSurvive: the delete_album deliveries outlive the album, its webhooks
// and their earlier history, and stay readable by the engine.
func TestDeleteAlbumDeliveriesSurvive(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k, _ := newKheopsEngine(t, kind)
		w := k.createWebhook(t, url.Values{"event": {"delete_album"}})
		addDeliveries(t, k.env.Store, w.Id, 3)
		if res, _ := k.alice.DeleteAlbumWithResponse(context.Background(), k.album, nil); res.StatusCode() != http.StatusNoContent {
			t.Fatalf("delete album: %d", res.StatusCode())
		}
		got := k.deliveries(t)
		if len(got) != 1 || got[0].Event != "delete_album" || got[0].WebhookID != w.Id {
			t.Fatalf("deliveries after the deletion: %+v", got)
		}
		d, attempts, err := k.env.Store.GetDelivery(context.Background(), got[0].ID)
		if err != nil || attempts != 0 || d.URL != "https://receiver.example.org/hook" {
			t.Errorf("the engine's view of the delivery: %+v %d %v", d, attempts, err)
		}
		var hooks int64
		k.env.Store.DB().Model(&store.AlbumWebhook{}).Where("id = ?", w.Id).Count(&hooks)
		if hooks != 0 {
			t.Errorf("the webhook survived its album")
		}
	})
}

// TestNewSeriesCoalescing: series added to a study are announced once the study has been quiet
// for the delay, in one request per study and webhook; removed series are not announced; two
// flushes at once send once.
func TestNewSeriesCoalescing(t *testing.T) {
	const (
		st1, st2       = "1.2.826.0.1.3680043.2.1", "1.2.826.0.1.3680043.2.2"
		a, b, c, gone  = st1 + ".1", st1 + ".2", st1 + ".3", st1 + ".9"
		lone           = st2 + ".1"
		retrieveSeries = "http://webhookd.test/api/studies/%s/series/%s"
	)
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k, eng := newKheopsEngine(t, kind)
		hook1 := k.createWebhook(t, url.Values{"event": {"new_series"}}).Id
		hook2 := k.createWebhook(t, url.Values{"event": {"new_series", "new_user"}, "url": {"https://two.example.org/"}}).Id
		hook3, silent := k.eventHooks(t, "new_series") // one more that fires, and three that must not
		firing := []string{hook1, hook2, hook3}
		allHooks := map[string]bool{hook1: true, hook2: true, hook3: true}

		start := time.Now()
		k.addSeries(t, k.aliceTok, st1, c, http.StatusCreated)
		k.addSeries(t, k.aliceTok, st2, lone, http.StatusCreated)
		time.Sleep(5 * time.Millisecond)
		k.addSeries(t, k.aliceTok, st1, a, http.StatusCreated)
		k.addSeries(t, k.aliceTok, st1, gone, http.StatusCreated)
		time.Sleep(5 * time.Millisecond)
		k.addSeries(t, k.bobTok, st1, b, http.StatusCreated) // bob is the last to add to st1
		k.addSeries(t, k.aliceTok, st1, a, http.StatusNoContent)
		end := time.Now()
		// A series removed before the flush is not announced by new_series (its removal fires
		// remove_series, to the webhook of eventHooks subscribed to the other events).
		if res, body := k.form(t, "DELETE", seriesPath(st1, gone, k.album), k.aliceTok, nil); res.StatusCode != http.StatusNoContent {
			t.Fatalf("remove %s: %d %s", gone, res.StatusCode, body)
		}

		// Every addition scheduled a flush of its study, at its time plus the delay.
		calls := eng.flushCalls()
		wantStudies := []string{st1, st2, st1, st1, st1}
		if len(calls) != len(wantStudies) {
			t.Fatalf("flushes scheduled: %+v", calls)
		}
		for i, call := range calls {
			if call.album != k.album || call.study != wantStudies[i] ||
				call.at.Before(start.Add(newSeriesDelay)) || call.at.After(end.Add(newSeriesDelay)) {
				t.Errorf("flush %d: %+v, want %s at start+delay..end+delay", i, call, wantStudies[i])
			}
		}
		pending := func() int64 {
			var n int64
			k.env.Store.DB().Table("pending_new_series").Where("album_id = ?", k.album).Count(&n)
			return n
		}
		if n := pending(); n != 4 {
			t.Errorf("%d pending series, want 4", n)
		}

		// Before the delay, 3 s before the due time, and at the first addition's flush time (the
		// study was not quiet since): nothing fires, nothing is consumed.
		for _, now := range []time.Time{time.Now(), calls[4].at.Add(-3 * time.Second), calls[0].at} {
			if k.flush(t, st1, now) {
				t.Errorf("flush at %v fired before the study was quiet", now)
			}
		}
		// The one within 2 s of the due time (it could have been the last addition's flush, come
		// early) scheduled one more flush at the due time, lest the study be forgotten.
		if again := eng.flushCalls()[len(calls):]; len(again) != 1 || again[0].study != st1 ||
			again[0].at.After(calls[4].at) || calls[4].at.Sub(again[0].at) > time.Millisecond {
			t.Errorf("flushes scheduled by early flushes: %+v, want one at %v", again, calls[4].at)
		}
		if n := pending(); n != 4 || len(k.deliveriesOf(t, "new_series")) != 0 {
			t.Fatalf("early flushes changed something: %d pending, %d deliveries", n, len(k.deliveriesOf(t, "new_series")))
		}

		// At the last addition's flush time: one request per webhook with the study's 3 series.
		if !k.flush(t, st1, calls[4].at) {
			t.Fatal("the flush of the quiet study did not fire")
		}
		if k.flush(t, st1, calls[4].at.Add(time.Hour)) {
			t.Error("a second flush fired again")
		}
		if !k.flush(t, st2, calls[1].at) {
			t.Fatal("the flush of the other study did not fire")
		}
		got := k.deliveriesOf(t, "new_series")
		if len(got) != 6 {
			t.Fatalf("%d deliveries, want 3 per study", len(got))
		}
		perStudy := map[string][]string{}
		for _, d := range got {
			if !allHooks[d.WebhookID] {
				t.Errorf("delivery to %s, which must stay silent (%v)", d.WebhookID, silent)
			}
			study := deref(d.StudyUID)
			perStudy[study] = append(perStudy[study], d.WebhookID)
			var want string
			switch study {
			case st1:
				want = fmt.Sprintf(`{"host":"http://webhookd.test","album_id":%q,"source":%s,"is_manual_trigger":false,"import_source":"send",
					"updated_study":{"study_uid":%q,"retrieve_url":"http://webhookd.test/api/studies/%s","series":[
					{"series_uid":%q,"retrieve_url":%q},{"series_uid":%q,"retrieve_url":%q},{"series_uid":%q,"retrieve_url":%q}]}}`,
					k.album, bobJSON, st1, st1, a, fmt.Sprintf(retrieveSeries, st1, a), b, fmt.Sprintf(retrieveSeries, st1, b),
					c, fmt.Sprintf(retrieveSeries, st1, c))
				if deref(d.SeriesUIDs) != fmt.Sprintf(`[%q,%q,%q]`, a, b, c) {
					t.Errorf("series refs %s", deref(d.SeriesUIDs))
				}
			case st2:
				want = fmt.Sprintf(`{"host":"http://webhookd.test","album_id":%q,"source":%s,"is_manual_trigger":false,"import_source":"send",
					"updated_study":{"study_uid":%q,"retrieve_url":"http://webhookd.test/api/studies/%s","series":[{"series_uid":%q,"retrieve_url":%q}]}}`,
					k.album, aliceJSON, st2, st2, lone, fmt.Sprintf(retrieveSeries, st2, lone))
			default:
				t.Fatalf("delivery for study %q", study)
			}
			checkBody(t, d.Body, want)
			if d.Event != "new_series" || d.IsManual {
				t.Errorf("delivery %+v", d.Delivery)
			}
		}
		for study, hooks := range perStudy {
			slices.Sort(hooks)
			if len(slices.Compact(hooks)) != 3 || len(hooks) != 3 {
				t.Errorf("study %s: deliveries to %v, want one to each of %v", study, hooks, firing)
			}
		}
		if n := pending(); n != 0 {
			t.Errorf("%d pending series left", n)
		}
		if n := len(eng.enqueuedIDs()); n != 7 {
			t.Errorf("%d deliveries enqueued, want 6 new_series and 1 remove_series", n)
		}
	})
}

// TestNewSeriesConcurrentFlushes: two engines flushing a study at once send one notification.
func TestNewSeriesConcurrentFlushes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k, _ := newKheopsEngine(t, kind)
		k.createWebhook(t, url.Values{"event": {"new_series"}})
		const rounds = 5
		for i := 0; i < rounds; i++ {
			study := fmt.Sprintf("1.2.3.%d", i+1)
			k.addSeries(t, k.aliceTok, study, study+".1", http.StatusCreated)
			k.addSeries(t, k.aliceTok, study, study+".2", http.StatusCreated)
			now := time.Now().Add(newSeriesDelay + time.Second)
			var wg sync.WaitGroup
			var fired [2]bool
			var errs [2]error
			ready := make(chan struct{})
			for j := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-ready
					fired[j], errs[j] = k.env.Store.FlushNewSeries(context.Background(), k.album, study, now)
				}()
			}
			close(ready)
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("flushes: %v, %v", errs[0], errs[1])
			}
			if fired[0] == fired[1] {
				t.Errorf("study %s: fired %v, want exactly one", study, fired)
			}
		}
		got := k.deliveries(t)
		if len(got) != rounds {
			t.Fatalf("%d deliveries for %d studies", len(got), rounds)
		}
		for _, d := range got {
			if s := deref(d.SeriesUIDs); !strings.Contains(s, ".1\"") || !strings.Contains(s, ".2\"") {
				t.Errorf("delivery of %s carries %s", deref(d.StudyUID), s)
			}
		}
	})
}

// TestSeriesAccess: members add, admins remove; the 404s of each case.
func TestSeriesAccess(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k, _ := newKheopsEngine(t, kind)
		const study, series = "1.2.3", "1.2.3.4"
		k.addSeries(t, k.bobTok, study, series, http.StatusCreated)
		tests := []struct {
			name, method, path, token string
			status                    int
			message                   string
		}{
			{"member re-adds", "PUT", seriesPath(study, series, k.album), k.bobTok, 204, ""},
			{"non-member adds", "PUT", seriesPath(study, "1.2.3.5", k.album), k.carolTok, 404, "Album Not Found"},
			{"unknown album", "PUT", seriesPath(study, "1.2.3.5", "0000000000"), k.aliceTok, 404, "Album Not Found"},
			{"no token", "PUT", seriesPath(study, "1.2.3.5", k.album), "", 401, "Unauthorized"},
			{"member removes a series", "DELETE", seriesPath(study, series, k.album), k.bobTok, 403, "Forbidden"},
			{"member removes a study", "DELETE", "/studies/" + study + "/albums/" + k.album, k.bobTok, 403, "Forbidden"},
			{"non-member removes a series", "DELETE", seriesPath(study, series, k.album), k.carolTok, 404, "Album Not Found"},
			{"non-member removes a study", "DELETE", "/studies/" + study + "/albums/" + k.album, k.carolTok, 404, "Album Not Found"},
			{"series not in the album", "DELETE", seriesPath(study, "1.2.3.5", k.album), k.aliceTok, 404, "Series Not Found"},
			{"series of another study", "DELETE", seriesPath("1.2.4", series, k.album), k.aliceTok, 404, "Series Not Found"},
			{"study not in the album", "DELETE", "/studies/1.2.4/albums/" + k.album, k.aliceTok, 404, "Series Not Found"},
			{"Accept excludes JSON", "PUT", seriesPath(study, series, k.album), k.bobTok, 406, "Not Acceptable"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, _ := http.NewRequest(tt.method, k.env.Server.URL+tt.path, nil)
				if tt.token != "" {
					req.Header.Set("Authorization", "Bearer "+tt.token)
				}
				if tt.status == 406 {
					req.Header.Set("Accept", "text/html")
				}
				res, err := k.env.HTTPClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var e struct{ Message, Detail string }
				_ = json.NewDecoder(res.Body).Decode(&e)
				if res.StatusCode != tt.status || e.Message != tt.message || (tt.message != "" && e.Detail == "") {
					t.Errorf("%d %+v, want %d %q", res.StatusCode, e, tt.status, tt.message)
				}
			})
		}
		// The album counts what was added; the admin removes; removing twice is a 404.
		got, _ := k.bob.GetAlbumWithResponse(context.Background(), k.album, nil)
		if got.JSON200 == nil || got.JSON200.NumberOfSeries != 1 || got.JSON200.NumberOfStudies != 1 {
			t.Fatalf("album: %s", got.Body)
		}
		for i, want := range []int{204, 404} {
			if res, body := k.form(t, "DELETE", seriesPath(study, series, k.album), k.aliceTok, nil); res.StatusCode != want {
				t.Errorf("removal %d: %d %s", i+1, res.StatusCode, body)
			}
		}
		got, _ = k.bob.GetAlbumWithResponse(context.Background(), k.album, nil)
		if got.JSON200 == nil || got.JSON200.NumberOfSeries != 0 {
			t.Errorf("album after removal: %s", got.Body)
		}
	})
}

// TestDICOMUIDValidation: every UID the API accepts (paths, trigger form) must be a DICOM UID.
func TestDICOMUIDValidation(t *testing.T) {
	tests := []struct {
		uid   string
		valid bool
	}{
		{"1.2.840.10008.1.2.1", true},
		{"0", true},
		{"1", true},
		{"0.0.0", true},
		{"2.25.329800735698586629295641978511506172918", true},
		{"1." + strings.Repeat("9", 62), true},  // 64 characters
		{"1." + strings.Repeat("9", 63), false}, // 65 characters
		{"1.02.3", false},
		{"01.2", false},
		{"1..2", false},
		{".1.2", false},
		{"1.2.", false},
		{"1.2.a", false},
		{"1.2-3", false},
		{"1.2 3", false},
		{"1,2", false},
		{"١.٢", false}, // Arabic-Indic digits
		{"-1.2", false},
		{"+1.2", false},
	}
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k, _ := newKheopsEngine(t, kind)
		hook := k.createWebhook(t, url.Values{}).Id
		const okStudy, okSeries = "1.2.3", "1.2.3.4"
		k.addSeries(t, k.aliceTok, okStudy, okSeries, http.StatusCreated)
		for _, tt := range tests {
			t.Run(tt.uid, func(t *testing.T) {
				type call struct {
					name, method, path string
					values             url.Values
					okStatus           int
				}
				// Removals and triggers first (nothing to find), then the additions.
				trigger := "/albums/" + k.album + "/webhooks/" + hook + "/trigger"
				calls := []call{
					{"remove series, study", "DELETE", seriesPath(tt.uid, "1.2.3.5", k.album), nil, 404},
					{"remove series, series", "DELETE", seriesPath("1.2.4", tt.uid, k.album), nil, 404},
					{"remove study", "DELETE", "/studies/" + url.PathEscape(tt.uid) + "/albums/" + k.album, nil, 404},
					{"trigger, study", "POST", trigger,
						url.Values{"event": {"new_series"}, "StudyInstanceUID": {tt.uid}, "SeriesInstanceUID": {okSeries}}, 404},
					{"trigger, series", "POST", trigger,
						url.Values{"event": {"new_series"}, "StudyInstanceUID": {okStudy}, "SeriesInstanceUID": {okSeries, tt.uid}}, 404},
					{"add, study", "PUT", seriesPath(tt.uid, okSeries, k.album), nil, 201},
					{"add, series", "PUT", seriesPath(okStudy, tt.uid, k.album), nil, 201},
				}
				for _, c := range calls {
					res, body := k.form(t, c.method, c.path, k.aliceTok, c.values)
					want := c.okStatus
					if !tt.valid {
						want = http.StatusBadRequest
					}
					if res.StatusCode != want {
						t.Errorf("%s: %d %s, want %d", c.name, res.StatusCode, body, want)
					}
					if !tt.valid {
						assertKheopsError(t, c.name, res, body, http.StatusBadRequest)
					}
				}
			})
		}
		// The refused requests shared nothing.
		got, _ := k.alice.GetAlbumWithResponse(context.Background(), k.album, nil)
		var valid int
		for _, tt := range tests {
			if tt.valid {
				valid++
			}
		}
		if got.JSON200 == nil || got.JSON200.NumberOfSeries != 1+2*valid {
			t.Errorf("series in the album: %s, want %d", got.Body, 1+2*valid)
		}
	})
}
