package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
)

const formType = "application/x-www-form-urlencoded"

// TestHostileForms holds the form bodies of issue 7 that crashed (an index of 99999999999 made
// the runtime's binder allocate that many elements), stalled (20000000) or were accepted (-1),
// and their neighbours: each is answered 400 naming the key, fast, and changes nothing.
func TestHostileForms(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		w := k.createWebhook(t, url.Values{"event": {"new_user"}})
		hooks := "/albums/" + k.album + "/webhooks"
		hook := hooks + "/" + w.Id
		trigger := hook + "/trigger"
		const create = "url=https://r.example.org&name=x&"
		cases := []struct {
			name, method, path, body, wantDetail string
		}{
			{"create: huge index (crashed the process)", http.MethodPost, hooks, create + "event[99999999999]=new_user",
				"'event[99999999999]': the index must be an integer from 0 to 999"},
			{"create: large index (stalled 30 s)", http.MethodPost, hooks, create + "event[20000000]=new_user",
				"'event[20000000]': the index must be an integer from 0 to 999"},
			{"create: negative index (was accepted)", http.MethodPost, hooks, create + "event[-1]=new_user",
				"'event[-1]': the index must be an integer from 0 to 999"},
			{"create: index 1000", http.MethodPost, hooks, create + "event[1000]=new_user",
				"'event[1000]': the index must be an integer from 0 to 999"},
			{"create: leading zero", http.MethodPost, hooks, create + "event[01]=new_user",
				"'event[01]': the index must be an integer from 0 to 999"},
			{"create: plus sign", http.MethodPost, hooks, create + "event[%2B1]=new_user",
				"'event[+1]': the index must be an integer from 0 to 999"},
			{"create: nested", http.MethodPost, hooks, create + "event[0][1]=new_user",
				"'event[0][1]': the index must be an integer from 0 to 999"},
			{"create: unclosed", http.MethodPost, hooks, create + "event[0=new_user",
				"'event[0': the key is not closed by ']'"},
			{"create: the same index twice", http.MethodPost, hooks, create + "event[0]=new_user&event[0]=new_series",
				"'event[0]' may be sent only once"},
			{"create: index on a single-valued key", http.MethodPost, hooks, "url[0]=https://r.example.org&name=x",
				"'url[0]': only list parameters take brackets"},
			{"create: brackets on an unknown key", http.MethodPost, hooks, create + "foo[]=1",
				"'foo[]': only list parameters take brackets"},
			{"create: more than 1000 pairs", http.MethodPost, hooks, create + strings.Repeat("event=new_user&", 1000),
				"the form has more than 1000 key=value pairs"},
			{"create: ';' separator", http.MethodPost, hooks, create + "event=new_user;event=new_series",
				"the form body must separate its pairs with '&', not ';'"},
			{"create: bad escape", http.MethodPost, hooks, create + "event=%zz",
				"the form body is not valid URL encoding"},
			{"patch: huge event index", http.MethodPatch, hook, "event[99999999999]=new_user",
				"'event[99999999999]': the index must be an integer from 0 to 999"},
			{"patch: huge add_event index", http.MethodPatch, hook, "add_event[99999999999]=new_user",
				"'add_event[99999999999]': the index must be an integer from 0 to 999"},
			{"patch: huge remove_event index", http.MethodPatch, hook, "remove_event[99999999999]=new_user",
				"'remove_event[99999999999]': the index must be an integer from 0 to 999"},
			{"patch: negative add_event index", http.MethodPatch, hook, "add_event[-1]=new_series",
				"'add_event[-1]': the index must be an integer from 0 to 999"},
			{"trigger: huge series index", http.MethodPost, trigger,
				"event=new_series&StudyInstanceUID=1.2&SeriesInstanceUID[99999999999]=1.2.3",
				"'SeriesInstanceUID[99999999999]': the index must be an integer from 0 to 999"},
			{"trigger: index on event", http.MethodPost, trigger, "event[0]=new_user&user=bob",
				"'event[0]': only list parameters take brackets"},
			{"album: index on name", http.MethodPost, "/albums", "name[0]=x",
				"'name[0]': only list parameters take brackets"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				start := time.Now()
				res, body := k.raw(t, tc.method, tc.path, k.aliceTok, formType, tc.body)
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("answered in %v", d)
				}
				var got gen.KheopsError
				if res.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &got) != nil ||
					got.Message != "Bad Request" || got.Detail != tc.wantDetail {
					t.Fatalf("%d %s, want 400 with detail %q", res.StatusCode, body, tc.wantDetail)
				}
			})
		}
		// Nothing changed: one webhook, with its one event.
		got, err := k.alice.GetWebhookWithResponse(context.Background(), k.album, w.Id, nil)
		if err != nil || got.JSON200 == nil || len(got.JSON200.Events) != 1 || got.JSON200.Events[0] != gen.NewUser {
			t.Errorf("the webhook after the hostile forms: %v %s", err, got.Body)
		}
		list, _ := k.alice.ListWebhooksWithResponse(context.Background(), k.album, nil)
		if list.JSON200 == nil || len(*list.JSON200) != 1 {
			t.Errorf("webhooks after the hostile forms: %s", list.Body)
		}
	})
}

// TestFormKeys checks that the two ways of sending lists keep working: Kheops' repeated keys and
// the indexed keys of the generated clients (in index order, whatever the order sent), and
// that `key[]` is a plain key.
func TestFormKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		hooks := "/albums/" + k.album + "/webhooks"
		cases := []struct {
			name, body string
			want       []gen.KheopsEvent
		}{
			{"repeated", "event=new_user&event=new_series", []gen.KheopsEvent{gen.NewSeries, gen.NewUser}},
			{"indexed, out of order", "event[1]=remove_series&event[0]=new_user", []gen.KheopsEvent{gen.NewUser, gen.RemoveSeries}},
			{"indexed with gaps", "event[0]=new_user&event[999]=delete_album", []gen.KheopsEvent{gen.NewUser, gen.DeleteAlbum}},
			{"empty brackets", "event[]=new_series&event[]=delete_album", []gen.KheopsEvent{gen.NewSeries, gen.DeleteAlbum}},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res, body := k.raw(t, http.MethodPost, hooks, k.aliceTok, formType,
					fmt.Sprintf("url=https://r.example.org/%d&name=n%d&%s", i, i, tc.body))
				var got gen.Webhook
				if res.StatusCode != http.StatusCreated || json.Unmarshal(body, &got) != nil {
					t.Fatalf("%d %s", res.StatusCode, body)
				}
				if !sameEvents(got.Events, tc.want) {
					t.Errorf("events %v, want %v", got.Events, tc.want)
				}
			})
		}
		// The generated client: its form encoder sends lists as indexed keys.
		events := []gen.KheopsEventOrNone{gen.FormNewSeries, gen.FormRemoveSeries}
		res, err := k.alice.CreateWebhookWithFormdataBodyWithResponse(context.Background(), k.album, nil,
			gen.CreateWebhookFormdataRequestBody{Url: "https://r.example.org/gen", Name: "gen", Event: &events})
		if err != nil || res.JSON201 == nil || !sameEvents(res.JSON201.Events, []gen.KheopsEvent{gen.NewSeries, gen.RemoveSeries}) {
			t.Fatalf("generated client: %v %s", err, res.Body)
		}
		add := []gen.KheopsEvent{gen.NewUser, gen.DeleteAlbum}
		rm := []gen.KheopsEvent{gen.NewSeries}
		up, err := k.alice.UpdateWebhookWithFormdataBodyWithResponse(context.Background(), k.album, res.JSON201.Id, nil,
			gen.UpdateWebhookFormdataRequestBody{AddEvent: &add, RemoveEvent: &rm})
		if err != nil || up.JSON200 == nil || !sameEvents(up.JSON200.Events, []gen.KheopsEvent{gen.RemoveSeries, gen.NewUser, gen.DeleteAlbum}) {
			t.Fatalf("generated client patch: %v %s", err, up.Body)
		}
	})
}

// sameEvents compares event lists as sets.
func sameEvents(got, want []gen.KheopsEvent) bool {
	if len(got) != len(want) {
		return false
	}
	set := map[gen.KheopsEvent]bool{}
	for _, e := range got {
		set[e] = true
	}
	for _, e := range want {
		if !set[e] {
			return false
		}
	}
	return true
}

// TestBodyLimit checks that a body over 1 MiB is a 413 in the family's shape, whether its size
// is announced (Content-Length) or not (chunked), and that one just under passes the limit.
func TestBodyLimit(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		f := newFacilityFixture(t, kind)
		big := strings.Repeat("a", 1<<20)
		cases := []struct {
			name      string
			env       *apitest.Env
			tok       string
			method    string
			path, ct  string
			body      string
			chunked   bool
			status    int
			wantShape string
		}{
			{"kheops create webhook", k.env, k.aliceTok, http.MethodPost, "/albums/" + k.album + "/webhooks", formType,
				"url=https://r.example.org&name=" + big, false, 413, "kheops"},
			{"kheops album, chunked", k.env, k.aliceTok, http.MethodPost, "/albums", formType,
				"name=" + big, true, 413, "kheops"},
			{"kheops album, just under", k.env, k.aliceTok, http.MethodPost, "/albums", formType,
				"name=" + big[:1<<20-10], false, 400, "kheops"},
			{"facility create", f.env, f.appTok, http.MethodPost, facilityPath, "application/json",
				`{"url": "` + big + `"}`, false, 413, "nest"},
			{"facility create, chunked", f.env, f.appTok, http.MethodPost, facilityPath, "application/json",
				`{"url": "` + big + `"}`, true, 413, "nest"},
			{"user create", f.env, f.appTok, http.MethodPost, userPath, "application/json",
				`{"url": "` + big + `"}`, false, 413, "nest"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var body = strings.NewReader(tc.body)
				req, _ := http.NewRequest(tc.method, tc.env.Server.URL+tc.path, nil)
				if tc.chunked {
					req.Body = readerOnly{body}
				} else {
					req.Body, req.ContentLength = readerOnly{body}, int64(len(tc.body))
				}
				req.Header.Set("Content-Type", tc.ct)
				req.Header.Set("Authorization", "Bearer "+tc.tok)
				res, err := tc.env.HTTPClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var got map[string]any
				_ = json.NewDecoder(res.Body).Decode(&got)
				if res.StatusCode != tc.status {
					t.Fatalf("status %d %v, want %d", res.StatusCode, got, tc.status)
				}
				if tc.status != 413 {
					return
				}
				const detail = "the request body must not be larger than 1048576 bytes"
				switch tc.wantShape {
				case "kheops":
					if got["message"] != "Request Entity Too Large" || got["detail"] != detail {
						t.Errorf("body %v", got)
					}
				default:
					if got["message"] != detail || got["error"] != "Request Entity Too Large" || got["statusCode"] != float64(413) {
						t.Errorf("body %v", got)
					}
				}
			})
		}
	})
}

// readerOnly hides a reader's type, so the client does not compute a Content-Length.
type readerOnly struct{ r *strings.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r readerOnly) Close() error               { return nil }
