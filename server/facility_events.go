package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

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

// eventRoutes are the event ingestion routes, with the field naming the event's target and the
// event types each accepts.
var eventRoutes = map[string]struct {
	target string
	types  func() []string
}{
	"/internal/events/facility": {"facilityId", eventTypesFacility},
	"/internal/events/user":     {"clientId", eventTypesUser},
}

// validateEventBodies authorizes POST /internal/events/* (the token needs the webhooks:publish
// scope: 403 before anything else) and checks its raw body, answering 400 with every failed rule
// (NestJS style) before the generated binding would stop at the first one. The handlers below
// run only for authorized, valid requests.
func validateEventBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		route, ok := eventRoutes[r.URL.Path]
		if !ok || r.Method != http.MethodPost {
			return next(c)
		}
		if !principal(r.Context()).HasScope(PublishScope) {
			return nestError(http.StatusForbidden, "Forbidden Resource")
		}
		raw, keys, body, aerr := readJSONObject(r)
		if aerr != nil {
			return aerr
		}
		if msgs := eventBodyErrors(keys, body, route.target, route.types()); len(msgs) > 0 {
			return nestValidation(msgs)
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
		r.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		return next(c)
	}
}

// eventBodyErrors lists every failed rule of an event body.
func eventBodyErrors(keys []string, body map[string]any, target string, types []string) []string {
	var msgs []string
	for _, k := range keys {
		if k != "eventType" && k != target && k != "data" && k != "idempotencyKey" {
			msgs = append(msgs, "property "+k+" should not exist")
		}
	}
	eventType, isString := body["eventType"].(string)
	if !isString {
		msgs = append(msgs, "eventType must be a string")
	}
	if !slices.Contains(types, eventType) {
		msgs = append(msgs, "eventType must be one of the following values: "+strings.Join(types, ", "))
	}
	if v, isString := body[target].(string); !isString {
		msgs = append(msgs, target+" must be a string")
	} else if strings.TrimSpace(v) == "" {
		msgs = append(msgs, target+" should not be empty")
	} else if !textOK(v) {
		msgs = append(msgs, target+" must not contain NUL characters")
	}
	if _, isObject := body["data"].(map[string]any); !isObject {
		msgs = append(msgs, "data must be an object")
	}
	if v, present := body["idempotencyKey"]; present && v != nil {
		key, isString := v.(string)
		switch {
		case !isString:
			msgs = append(msgs, "idempotencyKey must be a string")
		case key == "":
			msgs = append(msgs, "idempotencyKey should not be empty")
		case !textOK(key):
			msgs = append(msgs, "idempotencyKey must not contain NUL characters")
		case len(key) > maxIdempotencyKey:
			msgs = append(msgs, fmt.Sprintf("idempotencyKey must be shorter than or equal to %d characters", maxIdempotencyKey))
		}
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
	b := req.Body // authorized and validated by validateEventBodies
	out, err := s.publish(ctx, store.PublishInput{Kind: store.EventKindFacility, EventType: string(b.EventType),
		FacilityID: b.FacilityId, IdempotencyKey: b.IdempotencyKey}, b.Data)
	if err != nil {
		return nil, err
	}
	return gen.PublishFacilityEvent202JSONResponse(out), nil
}

// PublishUserEvent fans a user event out to the application's matching user webhooks.
func (s *Server) PublishUserEvent(ctx context.Context, req gen.PublishUserEventRequestObject) (gen.PublishUserEventResponseObject, error) {
	b := req.Body // authorized and validated by validateEventBodies
	out, err := s.publish(ctx, store.PublishInput{Kind: store.EventKindUser, EventType: string(b.EventType),
		ClientID: b.ClientId, IdempotencyKey: b.IdempotencyKey}, b.Data)
	if err != nil {
		return nil, err
	}
	return gen.PublishUserEvent202JSONResponse(out), nil
}
