package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
)

// facilityWebhook creates the facility webhook the store tests publish to: application "app",
// every event of facility P-1, with secrets.
func facilityWebhook(t testing.TB, st *store.Store, secrets ...string) store.FacilityWebhook {
	t.Helper()
	w, err := st.CreateFacilityWebhook(context.Background(), store.FacilityWebhook{Kind: store.FamilyFacility, ClientID: "app",
		URL: "https://r.example.org", Events: []string{"all"}, Facilities: []string{"P-1"}, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// aliceAlbum creates an album of user alice (provisioned first).
func aliceAlbum(t *testing.T, st *store.Store, name string) store.AlbumView {
	t.Helper()
	ctx := context.Background()
	if err := st.ProvisionUser(ctx, store.User{Sub: "alice"}); err != nil {
		t.Fatal(err)
	}
	a, err := st.CreateAlbum(ctx, "alice", name, "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// waitPending waits (10 s at most) until n calls wait for a batch, as pending counts them.
func waitPending(t *testing.T, what string, pending func() int, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); pending() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s pending, want %d", pending(), what, n)
		}
		time.Sleep(time.Millisecond)
	}
}
