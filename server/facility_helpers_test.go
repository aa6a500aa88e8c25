package server_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
)

const (
	facilityPath = "/api/v2/public/webhooks/facility"
	userPath     = "/api/v2/public/webhooks/user"
)

// The event-value messages of the two families, word for word.
const (
	facilityEventsMsg = "each value in events must be one of the following values: shift.request.created, shift.request.cancelled, shift.report.created, shift.scheduled.cancelled, shift.scheduled, shift.created, shift.report.accepted-automatically, shift.report.accepted, shift.report.rejected, shift.cancelled, all"
	userEventsMsg     = "each value in events must be one of the following values: all, facility.user-connection.accepted, facility.user-connection.rejected, facility.creation.accepted, facility.creation.rejected"
)

// facilityFixture is a server with two applications: app (facilities of the seed's example and
// P-1) and other (P-1 only).
type facilityFixture struct {
	env             *apitest.Env
	appTok, otherTo string
	app, other      *gen.ClientWithResponses
}

var appFacilities = []string{"P-123456", "P-123457", "P-1"}

func newFacilityFixture(t *testing.T, kind testdb.Kind) *facilityFixture {
	t.Helper()
	env := apitest.New(t, kind, apitest.Options{})
	f := &facilityFixture{env: env}
	f.appTok = env.Token(auth.TokenRequest{Subject: "svc-app", ClientID: "app", Facilities: appFacilities})
	f.otherTo = env.Token(auth.TokenRequest{Subject: "svc-other", ClientID: "other", Facilities: []string{"P-1"}})
	f.app, f.other = env.Client(f.appTok), env.Client(f.otherTo)
	return f
}

// raw sends any request through the contract-validating client and returns the status and body.
func (f *facilityFixture) raw(t *testing.T, method, path, token, contentType, body string) (int, []byte) {
	t.Helper()
	res, b := f.env.Do(method, path, token, contentType, body)
	return res.StatusCode, b
}

// sameJSON fails the test unless body is the JSON value want (compared as decoded values).
func sameJSON(t *testing.T, what string, body []byte, want any) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Errorf("%s: body is not JSON: %s", what, body)
		return
	}
	b, _ := json.Marshal(want)
	_ = json.Unmarshal(b, &exp)
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("%s:\n got  %s\n want %s", what, bytes.TrimSpace(body), b)
	}
}

// badRequest is the Nest 400 body listing msgs.
func badRequest(msgs ...string) map[string]any {
	return map[string]any{"message": msgs, "error": "Bad Request", "statusCode": 400}
}

var (
	notFoundBody     = map[string]any{"message": "Webhook not found", "error": "Not Found", "statusCode": 404}
	forbiddenBody    = map[string]any{"message": "Forbidden Resource", "error": "Forbidden", "statusCode": 403}
	unauthorizedBody = map[string]any{"message": "Unauthorized", "statusCode": 401}
)

// createFacility creates a facility webhook through the generated client.
func (f *facilityFixture) createFacility(t *testing.T, c *gen.ClientWithResponses, body gen.FacilityWebhookCreate) gen.FacilityWebhook {
	t.Helper()
	res, err := c.CreateFacilityWebhookWithResponse(t.Context(), body)
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create facility webhook: %v %d %s", err, res.StatusCode(), res.Body)
	}
	return res.JSON201.Data
}

// createUser creates a user webhook through the generated client.
func (f *facilityFixture) createUser(t *testing.T, c *gen.ClientWithResponses, body gen.UserWebhookCreate) gen.UserWebhook {
	t.Helper()
	res, err := c.CreateUserWebhookWithResponse(t.Context(), body)
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create user webhook: %v %d %s", err, res.StatusCode(), res.Body)
	}
	return res.JSON201.Data
}
