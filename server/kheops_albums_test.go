package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/webhookd/webhookd/internal/testdb"
)

func TestAlbumMembership(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		ctx := context.Background()

		got, err := k.bob.GetAlbumWithResponse(ctx, k.album, nil)
		if err != nil || got.JSON200 == nil {
			t.Fatalf("bob reads the album: %v %s", err, got.Status())
		}
		if got.JSON200.NumberOfUsers != 2 || got.JSON200.IsAdmin || got.JSON200.Name != "Album" {
			t.Errorf("album as bob sees it: %+v", got.JSON200)
		}
		// A non-member gets the same 404 as for an unknown album.
		for _, id := range []string{k.album, "0000000000"} {
			res, _ := k.carol.GetAlbumWithResponse(ctx, id, nil)
			if res.StatusCode() != http.StatusNotFound || res.JSON404 == nil || res.JSON404.Message != "Album Not Found" {
				t.Errorf("carol GET %s: %d %s", id, res.StatusCode(), res.Body)
			}
		}
		// Adding bob again: 204. Unknown user: 404 User Not Found. By email works.
		if res, _ := k.alice.AddAlbumUserWithResponse(ctx, k.album, "bob", nil); res.StatusCode() != http.StatusNoContent {
			t.Errorf("re-add bob: %d", res.StatusCode())
		}
		if res, _ := k.alice.AddAlbumUserWithResponse(ctx, k.album, "nobody", nil); res.StatusCode() != http.StatusNotFound || res.JSON404.Message != "User Not Found" {
			t.Errorf("add unknown user: %d %s", res.StatusCode(), res.Body)
		}
		if res, _ := k.alice.AddAlbumUserWithResponse(ctx, k.album, "carol@example.org", nil); res.StatusCode() != http.StatusCreated {
			t.Errorf("add carol by email: %d %s", res.StatusCode(), res.Body)
		}
		// A plain member cannot add users or delete the album.
		if res, _ := k.bob.DeleteAlbumWithResponse(ctx, k.album, nil); res.StatusCode() != http.StatusForbidden {
			t.Errorf("bob deletes album: %d", res.StatusCode())
		}
		// Promotion, then bob may manage; the last admin cannot be demoted.
		if res, _ := k.alice.PromoteAlbumAdminWithResponse(ctx, k.album, "bob", nil); res.StatusCode() != http.StatusNoContent {
			t.Fatalf("promote bob: %d %s", res.StatusCode(), res.Body)
		}
		if res, _ := k.bob.DemoteAlbumAdminWithResponse(ctx, k.album, "alice", nil); res.StatusCode() != http.StatusNoContent {
			t.Fatalf("demote alice: %d %s", res.StatusCode(), res.Body)
		}
		if res, _ := k.bob.DemoteAlbumAdminWithResponse(ctx, k.album, "bob", nil); res.StatusCode() != http.StatusBadRequest {
			t.Errorf("demote last admin: %d %s", res.StatusCode(), res.Body)
		}
		// carol leaves by herself; alice (now plain) cannot remove bob.
		if res, _ := k.carol.RemoveAlbumUserWithResponse(ctx, k.album, "carol", nil); res.StatusCode() != http.StatusNoContent {
			t.Errorf("carol leaves: %d %s", res.StatusCode(), res.Body)
		}
		if res, _ := k.alice.RemoveAlbumUserWithResponse(ctx, k.album, "bob", nil); res.StatusCode() != http.StatusForbidden {
			t.Errorf("plain member removes another: %d", res.StatusCode())
		}
		// The admin deletes the album; it is gone.
		if res, _ := k.bob.DeleteAlbumWithResponse(ctx, k.album, nil); res.StatusCode() != http.StatusNoContent {
			t.Fatalf("delete album: %d %s", res.StatusCode(), res.Body)
		}
		if res, _ := k.bob.GetAlbumWithResponse(ctx, k.album, nil); res.StatusCode() != http.StatusNotFound {
			t.Errorf("deleted album: %d", res.StatusCode())
		}
	})
}
