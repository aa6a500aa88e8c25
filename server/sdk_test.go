package server_test

import (
	"strings"
	"testing"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/nodetest"
	"github.com/webhookd/webhookd/internal/testdb"
)

// TestTypeScriptSDK runs the tests of the TypeScript SDK (sdk/typescript/test, node's test
// runner through the pinned tsx) against a running server: album webhooks listed with
// X-Total-Count, created with two events, edited with add_event/remove_event and without a
// body, a typed 400; facility webhooks created, edited, listed, their logs, a typed 400.
func TestTypeScriptSDK(t *testing.T) {
	nodetest.Dir(t)
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		env := apitest.New(t, kind, apitest.Options{Engine: &delivery.EngineConfig{}})
		out := nodetest.Run(t, nodetest.Command{Name: "tsx", Args: []string{"--test", "test/sdk.test.ts"},
			Dir: nodetest.RepoRoot(t) + "/sdk/typescript",
			Env: []string{
				"WEBHOOKD_URL=" + env.Server.URL,
				"WEBHOOKD_KHEOPS_TOKEN=" + env.Token(auth.TokenRequest{Subject: "sdk-user", Email: "sdk@example.org", Name: "SDK"}),
				"WEBHOOKD_APP_TOKEN=" + env.Token(auth.TokenRequest{Subject: "sdk-app", ClientID: "app", Facilities: []string{"P-1", "P-2"}}),
				"WEBHOOKD_PUBLISH_TOKEN=" + env.Token(auth.TokenRequest{Subject: "sdk-publisher", Scope: "webhooks:publish"}),
			}})
		if !strings.Contains(string(out), "# fail 0") || !strings.Contains(string(out), "# pass 3") {
			t.Errorf("SDK tests:\n%s", out)
		}
	})
}
