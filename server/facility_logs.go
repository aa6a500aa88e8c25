package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

const logsPath = "/api/v2/public/webhooks/logs"

// validateLogsQuery checks the query of GET /logs before the generated binding, so that the
// 400 lists every failed rule (NestJS style) instead of the first one.
func validateLogsQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodGet || r.URL.Path != logsPath {
			return next(c)
		}
		if msgs := logsQueryErrors(r.URL.Query()); len(msgs) > 0 {
			return nestValidation(msgs)
		}
		return next(c)
	}
}

func logsQueryErrors(q url.Values) []string {
	var msgs []string
	intParam := func(name string, maxValue int) {
		v, ok := q[name]
		if !ok {
			return
		}
		n, err := strconv.Atoi(v[0])
		if err != nil || len(v) > 1 {
			msgs = append(msgs, name+" must be an integer number")
			return
		}
		if n < 0 {
			msgs = append(msgs, name+" must not be less than 0")
		}
		if maxValue > 0 && n > maxValue {
			msgs = append(msgs, fmt.Sprintf("%s must not be greater than %d", name, maxValue))
		}
	}
	intParam("limit", 100)
	intParam("offset", 0)
	if v, ok := q["sortDirection"]; ok && (len(v) > 1 || (v[0] != "ASC" && v[0] != "DESC")) {
		msgs = append(msgs, "sortDirection must be one of the following values: ASC, DESC")
	}
	dates := map[string]time.Time{}
	for _, name := range []string{"startDate", "endDate"} {
		if v, ok := q[name]; ok {
			t, err := time.Parse(time.RFC3339Nano, v[0])
			if err != nil || len(v) > 1 {
				msgs = append(msgs, name+" must be a valid ISO 8601 date string")
				continue
			}
			dates[name] = t
		}
	}
	if s, ok := dates["startDate"]; ok {
		if e, ok := dates["endDate"]; ok && !s.Before(e) {
			msgs = append(msgs, "startDate must be a date before endDate")
		}
	}
	if v, ok := q["eventType"]; ok && (len(v) > 1 || !slices.Contains(logEventTypes(), v[0])) {
		msgs = append(msgs, "eventType must be one of the following values: "+strings.Join(logEventTypes(), ", "))
	}
	return msgs
}

// logEventTypes are the values the eventType filter takes: every facility and user event.
func logEventTypes() []string { return append(eventTypesFacility(), eventTypesUser()...) }

// ListWebhookLogs lists the calling application's deliveries.
func (s *Server) ListWebhookLogs(ctx context.Context, req gen.ListWebhookLogsRequestObject) (gen.ListWebhookLogsResponseObject, error) {
	p := req.Params
	f := store.LogFilter{Start: p.StartDate, End: p.EndDate, Limit: 10}
	if p.EventType != nil {
		et := string(*p.EventType)
		f.EventType = &et
	}
	if p.FacilitiesIds != nil {
		f.FacilityIDs = *p.FacilitiesIds
	}
	if p.Limit != nil {
		f.Limit = *p.Limit
	}
	if p.Offset != nil {
		f.Offset = *p.Offset
	}
	f.Ascending = p.SortDirection != nil && *p.SortDirection == gen.ASC
	entries, err := s.store.ListLogs(ctx, principal(ctx).ClientID, f)
	if err != nil {
		return nil, err
	}
	out := gen.WebhookLogList{Data: make([]gen.WebhookLog, len(entries))}
	for i, e := range entries {
		out.Data[i] = logJSON(e)
	}
	return gen.ListWebhookLogs200JSONResponse(out), nil
}

// logJSON shows a delivery: its first attempt in the item, the later ones in retries.
func logJSON(e store.LogEntry) gen.WebhookLog {
	var body map[string]any
	_ = json.Unmarshal([]byte(e.Payload), &body)
	item := gen.WebhookLog{Id: e.ID, FacilityId: e.FacilityID, EventType: e.Event, RequestPayload: body,
		ResponseStatus: -1, Url: e.URL, CreatedAt: e.CreatedAt, Retries: []gen.WebhookLogAttempt{}}
	switch e.Status {
	case store.DeliverySuccess:
		item.Status = gen.WebhookLogStatusSuccess
	case store.DeliveryFailure:
		item.Status = gen.WebhookLogStatusFailure
	default:
		item.Status = gen.WebhookLogStatusPending
	}
	for _, a := range e.Attempts {
		text := a.ResponseBody
		if a.Status < 0 {
			text = a.Error
		}
		if a.Attempt == 1 {
			item.ResponseStatus, item.ResponseBody = a.Status, text
			continue
		}
		st := gen.WebhookLogAttemptStatusFailure
		if a.Status >= 200 && a.Status < 300 {
			st = gen.WebhookLogAttemptStatusSuccess
		}
		item.Retries = append(item.Retries, gen.WebhookLogAttempt{Id: fmt.Sprintf("%s-%d", e.ID, a.Attempt),
			FacilityId: e.FacilityID, EventType: e.Event, RequestPayload: body, ResponseStatus: a.Status,
			ResponseBody: text, Url: e.URL, Status: st, CreatedAt: a.CreatedAt, RetryAttempt: a.Attempt - 1})
	}
	return item
}
