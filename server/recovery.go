package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

// Resend and recover, in both families: one more attempt of one delivery, or of every failed
// delivery of a webhook in a period. The store makes both idempotent in effect and constant in
// statements.

var (
	errTriggerNotFound = kheopsError(http.StatusNotFound, "Trigger Not Found", "the trigger does not exist for this webhook")
	errLogNotFound     = nestError(http.StatusNotFound, "Webhook log not found")
)

// recoverPeriod reads the [since, until) of a recover request: RFC 3339 times, until defaulting
// to now and after since. It returns every failed rule, naming the parameters with name (the
// Kheops family quotes them, and answers the first rule only).
func recoverPeriod(since, until *string, now time.Time, name func(string) string) (time.Time, time.Time, []string) {
	var msgs []string
	var from, to time.Time
	var err error
	if since == nil {
		msgs = append(msgs, name("since")+" must be an RFC 3339 date-time such as 2026-11-20T08:00:00Z")
	} else if from, err = time.Parse(time.RFC3339Nano, *since); err != nil {
		msgs = append(msgs, name("since")+" must be an RFC 3339 date-time such as 2026-11-20T08:00:00Z")
	}
	to = now
	if until != nil {
		if to, err = time.Parse(time.RFC3339Nano, *until); err != nil {
			msgs = append(msgs, name("until")+" must be an RFC 3339 date-time such as 2026-11-21T08:00:00Z")
		}
	}
	if len(msgs) == 0 && !to.After(from) {
		msgs = append(msgs, name("until")+" must be after "+name("since"))
	}
	return from, to, msgs
}

func quoted(field string) string { return "'" + field + "'" }

func bare(field string) string { return field }

// ResendTrigger queues one more attempt of one of the webhook's deliveries (admins): 202.
func (s *Server) ResendTrigger(ctx context.Context, req gen.ResendTriggerRequestObject) (gen.ResendTriggerResponseObject, error) {
	if _, err := s.admin(ctx, req.AlbumId); err != nil {
		return nil, err
	}
	err := s.store.ResendKheopsDelivery(ctx, req.AlbumId, req.WebhookId, req.TriggerId)
	if errors.Is(err, store.ErrDeliveryNotFound) {
		return nil, errTriggerNotFound
	}
	if err != nil {
		return nil, mapStoreError(err)
	}
	return gen.ResendTrigger202JSONResponse{Id: req.TriggerId}, nil
}

// RecoverWebhook queues one more attempt of each failed delivery of the webhook created in
// [since, until) (admins): 202 with their number.
func (s *Server) RecoverWebhook(ctx context.Context, req gen.RecoverWebhookRequestObject) (gen.RecoverWebhookResponseObject, error) {
	if _, err := s.admin(ctx, req.AlbumId); err != nil {
		return nil, err
	}
	var since, until *string
	if req.Body != nil {
		if req.Body.Since != "" {
			since = &req.Body.Since
		}
		until = req.Body.Until
	}
	from, to, msgs := recoverPeriod(since, until, time.Now(), quoted)
	if len(msgs) > 0 {
		return nil, badRequest("%s", msgs[0])
	}
	n, err := s.store.RecoverKheopsDeliveries(ctx, req.AlbumId, req.WebhookId, from, to)
	if err != nil {
		return nil, mapStoreError(err)
	}
	return gen.RecoverWebhook202JSONResponse{Deliveries: n}, nil
}

// RetryWebhookLog queues one more attempt of one of the application's deliveries: 202.
func (s *Server) RetryWebhookLog(ctx context.Context, req gen.RetryWebhookLogRequestObject) (gen.RetryWebhookLogResponseObject, error) {
	if !textOK(req.LogId) { // no log has such an id, and PostgreSQL cannot compare it
		return nil, errLogNotFound
	}
	err := s.store.ResendLog(ctx, principal(ctx).ClientID, req.LogId)
	if errors.Is(err, store.ErrDeliveryNotFound) {
		return nil, errLogNotFound
	}
	if err != nil {
		return nil, err
	}
	return gen.RetryWebhookLog202JSONResponse{Data: gen.ResendAccepted{Id: req.LogId}}, nil
}

// RecoverFacilityWebhook recovers the failed deliveries of a facility webhook.
func (s *Server) RecoverFacilityWebhook(ctx context.Context, req gen.RecoverFacilityWebhookRequestObject) (gen.RecoverFacilityWebhookResponseObject, error) {
	n, err := s.recoverFacility(ctx, store.FamilyFacility, req.WebhookId, req.Body)
	if err != nil {
		return nil, err
	}
	return gen.RecoverFacilityWebhook202JSONResponse{Data: gen.RecoverAccepted{Deliveries: n}}, nil
}

// RecoverUserWebhook recovers the failed deliveries of a user webhook.
func (s *Server) RecoverUserWebhook(ctx context.Context, req gen.RecoverUserWebhookRequestObject) (gen.RecoverUserWebhookResponseObject, error) {
	n, err := s.recoverFacility(ctx, store.FamilyUser, req.WebhookId, req.Body)
	if err != nil {
		return nil, err
	}
	return gen.RecoverUserWebhook202JSONResponse{Data: gen.RecoverAccepted{Deliveries: n}}, nil
}

// recoverFacility recovers the failed deliveries of the application's webhook of kind; the
// body was checked by validateRecoverBodies.
func (s *Server) recoverFacility(ctx context.Context, kind, webhookID string, body *gen.RecoverRequest) (int, error) {
	id, ok := facilityWebhookID(webhookID)
	if !ok {
		return 0, errFacilityWebhookNotFound
	}
	if body == nil {
		body = &gen.RecoverRequest{}
	}
	var since *string
	if body.Since != "" {
		since = &body.Since
	}
	from, to, msgs := recoverPeriod(since, body.Until, time.Now(), bare)
	if len(msgs) > 0 {
		return 0, nestValidation(msgs)
	}
	n, err := s.store.RecoverFacilityDeliveries(ctx, principal(ctx).ClientID, kind, id, from, to)
	if err != nil {
		return 0, facilityWebhookError(err)
	}
	return n, nil
}

// recoverRoutes are the routes of the facility family's recover bodies.
var recoverRoutes = map[string]bool{
	http.MethodPost + " /api/v2/public/webhooks/facility/:webhookId/recover": true,
	http.MethodPost + " /api/v2/public/webhooks/user/:webhookId/recover":     true,
}

// validateRecoverBodies checks the JSON body of the facility family's recover operations and
// answers 400 listing every failed rule (unknown properties first, then since and until),
// before the generated binding would stop at the first one.
func validateRecoverBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !recoverRoutes[r.Method+" "+c.Path()] {
			return next(c)
		}
		raw, keys, body, aerr := readJSONObject(r)
		if aerr != nil {
			return aerr
		}
		var msgs []string
		for _, k := range keys {
			if k != "since" && k != "until" {
				msgs = append(msgs, "property "+k+" should not exist")
			}
		}
		text := func(name string) (*string, bool) {
			v, ok := body[name]
			if !ok || v == nil {
				return nil, true
			}
			s, isString := v.(string)
			return &s, isString
		}
		since, sinceOK := text("since")
		until, untilOK := text("until")
		if !sinceOK {
			since = new(string) // not a string: fails as an unreadable time
		}
		if !untilOK {
			until = new(string)
		}
		_, _, periodMsgs := recoverPeriod(since, until, time.Now(), bare)
		if msgs = append(msgs, periodMsgs...); len(msgs) > 0 {
			return nestValidation(msgs)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			raw = []byte("{}")
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
		r.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		return next(c)
	}
}
