package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
)

// kheops is a Kheops-family fixture: a server, an admin (alice), a plain member (bob) and an
// outsider (carol), all known to the server, and an album administered by alice with bob in it.
// Options, when given, tune the server (a fake engine installed by Setup, the store's config).
type kheops struct {
	env               *apitest.Env
	alice, bob, carol *gen.ClientWithResponses
	aliceTok, bobTok  string
	carolTok          string
	album             string
}

func newKheops(t *testing.T, kind testdb.Kind, opts ...apitest.Options) *kheops {
	t.Helper()
	var o apitest.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	env := apitest.New(t, kind, o)
	k := &kheops{env: env}
	k.aliceTok = env.Token(auth.TokenRequest{Subject: "alice", Email: "alice@example.org", Name: "Alice"})
	k.bobTok = env.Token(auth.TokenRequest{Subject: "bob", Email: "bob@example.org", Name: "Bob"})
	k.carolTok = env.Token(auth.TokenRequest{Subject: "carol", Email: "carol@example.org", Name: "Carol"})
	k.alice, k.bob, k.carol = env.Client(k.aliceTok), env.Client(k.bobTok), env.Client(k.carolTok)
	ctx := context.Background()
	// Every user calls once, so the server knows them.
	for _, c := range []*gen.ClientWithResponses{k.bob, k.carol} {
		if _, err := c.GetAlbumWithResponse(ctx, "none", nil); err != nil {
			t.Fatal(err)
		}
	}
	k.album = k.createAlbum(t, k.alice, "Album")
	res, err := k.alice.AddAlbumUserWithResponse(ctx, k.album, "bob", nil)
	if err != nil || res.StatusCode() != http.StatusCreated {
		t.Fatalf("add bob: %v %v", err, res.Status())
	}
	return k
}

func (k *kheops) createAlbum(t *testing.T, c *gen.ClientWithResponses, name string) string {
	t.Helper()
	res, err := c.CreateAlbumWithFormdataBodyWithResponse(context.Background(), nil, gen.CreateAlbumFormdataRequestBody{Name: name})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create album: %v %s %s", err, res.Status(), res.Body)
	}
	return res.JSON201.AlbumId
}

// form sends a form request the way Kheops' clients do: repeated keys for lists.
func (k *kheops) form(t *testing.T, method, path, token string, values url.Values) (*http.Response, []byte) {
	t.Helper()
	return k.raw(t, method, path, token, "application/x-www-form-urlencoded", values.Encode())
}

// raw sends any request through the contract-validating client.
func (k *kheops) raw(t *testing.T, method, path, token, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	return k.env.Do(method, path, token, contentType, body)
}

// createWebhook creates a webhook in k.album with form values (url and name defaulted).
func (k *kheops) createWebhook(t *testing.T, values url.Values) gen.Webhook {
	t.Helper()
	if values.Get("url") == "" {
		values.Set("url", "https://receiver.example.org/hook")
	}
	if values.Get("name") == "" {
		values.Set("name", "hook")
	}
	res, err := k.alice.CreateWebhookWithBodyWithResponse(context.Background(), k.album, nil,
		"application/x-www-form-urlencoded", strings.NewReader(values.Encode()))
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create webhook: %v %s %s", err, res.Status(), res.Body)
	}
	return *res.JSON201
}
