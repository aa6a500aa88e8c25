package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

// PublishScope is the scope a token needs to publish events.
const PublishScope = "webhooks:publish"

// eventTypesFacility lists the facility event types that can be published (every value but
// "all"), in the API's order.
func eventTypesFacility() []string { return withoutAll(facilityEventValues) }

// eventTypesUser lists the user event types that can be published.
func eventTypesUser() []string { return withoutAll(userEventValues) }

func withoutAll(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v != "all" {
			out = append(out, v)
		}
	}
	return out
}

const maxIdempotencyKey = 255

// publishErrors validates the fields common to both event kinds.
func publishErrors(eventType string, allowed []string, data map[string]any, key *string) []string {
	var msgs []string
	ok := false
	for _, v := range allowed {
		ok = ok || v == eventType
	}
	if !ok {
		msgs = append(msgs, "eventType must be one of the following values: "+strings.Join(allowed, ", "))
	}
	if data == nil {
		msgs = append(msgs, "data must be an object")
	}
	if key != nil && (*key == "" || len(*key) > maxIdempotencyKey) {
		msgs = append(msgs, "idempotencyKey must be shorter than or equal to 255 characters and not empty")
	}
	return msgs
}

func (s *Server) publish(ctx context.Context, in store.PublishInput, data map[string]any) (gen.EventAccepted, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return gen.EventAccepted{}, err
	}
	in.Data, in.Publisher = raw, principal(ctx).ClientID
	res, err := s.store.PublishEvent(ctx, in)
	if err != nil {
		return gen.EventAccepted{}, err
	}
	return gen.EventAccepted{EventId: uuid.MustParse(res.EventID), Deliveries: res.Deliveries, Duplicate: res.Duplicate}, nil
}

// PublishFacilityEvent fans a facility event out to the matching facility webhooks.
func (s *Server) PublishFacilityEvent(ctx context.Context, req gen.PublishFacilityEventRequestObject) (gen.PublishFacilityEventResponseObject, error) {
	if !principal(ctx).HasScope(PublishScope) {
		return nil, nestError(http.StatusForbidden, "Forbidden Resource")
	}
	b := req.Body
	if b == nil {
		return nil, nestValidation([]string{"the body must be a JSON object"})
	}
	msgs := publishErrors(b.EventType, eventTypesFacility(), b.Data, b.IdempotencyKey)
	if strings.TrimSpace(b.FacilityId) == "" {
		msgs = append(msgs, "facilityId should not be empty")
	}
	if len(msgs) > 0 {
		return nil, nestValidation(msgs)
	}
	out, err := s.publish(ctx, store.PublishInput{Kind: store.EventKindFacility, EventType: b.EventType,
		FacilityID: b.FacilityId, IdempotencyKey: b.IdempotencyKey}, b.Data)
	if err != nil {
		return nil, err
	}
	return gen.PublishFacilityEvent202JSONResponse(out), nil
}

// PublishUserEvent fans a user event out to the application's matching user webhooks.
func (s *Server) PublishUserEvent(ctx context.Context, req gen.PublishUserEventRequestObject) (gen.PublishUserEventResponseObject, error) {
	if !principal(ctx).HasScope(PublishScope) {
		return nil, nestError(http.StatusForbidden, "Forbidden Resource")
	}
	b := req.Body
	if b == nil {
		return nil, nestValidation([]string{"the body must be a JSON object"})
	}
	msgs := publishErrors(b.EventType, eventTypesUser(), b.Data, b.IdempotencyKey)
	if strings.TrimSpace(b.ClientId) == "" {
		msgs = append(msgs, "clientId should not be empty")
	}
	if len(msgs) > 0 {
		return nil, nestValidation(msgs)
	}
	out, err := s.publish(ctx, store.PublishInput{Kind: store.EventKindUser, EventType: b.EventType,
		ClientID: b.ClientId, IdempotencyKey: b.IdempotencyKey}, b.Data)
	if err != nil {
		return nil, err
	}
	return gen.PublishUserEvent202JSONResponse(out), nil
}
