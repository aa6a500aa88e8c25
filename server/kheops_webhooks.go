package server

import (
	"context"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

func eventsJSON(set store.EventSet) []gen.KheopsEvent {
	list := set.List()
	out := make([]gen.KheopsEvent, len(list))
	for i, e := range list {
		out[i] = gen.KheopsEvent(e)
	}
	return out
}

// webhookJSON is the list-item representation: last_triggers left out when there are none.
func webhookJSON(v store.WebhookView) gen.Webhook {
	w := gen.Webhook{Id: v.ID, Url: v.URL, Name: v.Name, UseSecret: v.Secret != nil, Events: eventsJSON(v.Events),
		Enabled: v.Enabled, DisabledReason: v.DisabledReason, NumberOfTriggers: v.NumberOfTriggers}
	if len(v.LastTriggers) > 0 {
		last := make([]gen.TriggerSummary, len(v.LastTriggers))
		for i, t := range v.LastTriggers {
			last[i] = gen.TriggerSummary{Id: t.ID, Status: gen.Fail}
			if t.Success {
				last[i].Status = gen.Pass
			}
		}
		w.LastTriggers = &last
	}
	return w
}

func webhookDetailJSON(d store.WebhookDetail) gen.WebhookDetail {
	out := gen.WebhookDetail{Id: d.ID, Url: d.URL, Name: d.Name, UseSecret: d.Secret != nil,
		Events: eventsJSON(d.Events), Enabled: d.Enabled, DisabledReason: d.DisabledReason, NumberOfTriggers: d.NumberOfTriggers,
		Triggers: make([]gen.Trigger, len(d.Triggers))}
	for i, t := range d.Triggers {
		tr := gen.Trigger{Id: t.ID, IsManualTrigger: t.IsManual, Event: gen.KheopsEvent(t.Event)}
		if t.User != nil {
			tr.User = &gen.TriggerUser{Sub: t.User.Sub}
			if t.User.Email != "" {
				tr.User.Email = &t.User.Email
			}
			if t.User.Name != "" {
				tr.User.Name = &t.User.Name
			}
		}
		if t.StudyUID != nil {
			st := &gen.TriggerStudy{StudyUid: *t.StudyUID, Series: make([]gen.TriggerSeries, len(t.Series))}
			for j, s := range t.Series {
				st.Series[j] = gen.TriggerSeries{SeriesUid: s}
			}
			tr.Study = st
		}
		if len(t.Attempts) > 0 {
			attempts := make([]gen.TriggerAttempt, len(t.Attempts))
			for j, a := range t.Attempts {
				attempts[j] = gen.TriggerAttempt{Status: a.Status, Time: a.CreatedAt, Attempt: a.Attempt}
			}
			tr.Attempts = &attempts
		}
		out.Triggers[i] = tr
	}
	return out
}

// CreateWebhook creates an album webhook (admins).
func (s *Server) CreateWebhook(ctx context.Context, req gen.CreateWebhookRequestObject) (gen.CreateWebhookResponseObject, error) {
	if _, err := s.admin(ctx, req.AlbumId); err != nil {
		return nil, err
	}
	f := req.Body
	if f == nil {
		return nil, badRequest("'url' and 'name' are required")
	}
	if err := validateURL(f.Url); err != nil {
		return nil, err
	}
	name, aerr := validateName("name", f.Name)
	if aerr != nil {
		return nil, aerr
	}
	w := store.AlbumWebhook{AlbumID: req.AlbumId, URL: f.Url, Name: name, Enabled: true}
	if f.Secret != nil {
		if err := validateSecret(*f.Secret); err != nil {
			return nil, err
		}
		w.Secret = f.Secret
	}
	if f.Event != nil && !(len(*f.Event) == 1 && (*f.Event)[0] == "") {
		if w.Events, aerr = parseEvents("event", *f.Event); aerr != nil {
			return nil, aerr
		}
	}
	if f.Enabled != nil {
		w.Enabled = *f.Enabled
	}
	v, err := s.store.CreateWebhook(ctx, w)
	if err != nil {
		return nil, err
	}
	return gen.CreateWebhook201JSONResponse(webhookJSON(v)), nil
}

// ListWebhooks lists an album's webhooks (admins), most recent first. The caller's membership is
// read with the page, in the same statement.
func (s *Server) ListWebhooks(ctx context.Context, req gen.ListWebhooksRequestObject) (gen.ListWebhooksResponseObject, error) {
	p, aerr := page(req.Params.Limit, req.Params.Offset)
	if aerr != nil {
		// As for every album operation, a caller who may not see the album learns only that.
		if _, err := s.admin(ctx, req.AlbumId); err != nil {
			return nil, err
		}
		return nil, aerr
	}
	list, err := s.store.ListWebhooks(ctx, req.AlbumId, principal(ctx).Subject, req.Params.Url, p)
	if err != nil {
		return nil, mapStoreError(err)
	}
	if !list.IsAdmin {
		return nil, errNotAdmin
	}
	body := make([]gen.Webhook, len(list.Webhooks))
	for i, v := range list.Webhooks {
		body[i] = webhookJSON(v)
	}
	return webhookList{ListWebhooks200JSONResponse: gen.ListWebhooks200JSONResponse{Body: body,
		Headers: gen.ListWebhooks200ResponseHeaders{XTotalCount: int(list.Total)}}, buffers: &s.buffers}, nil
}

// GetWebhook returns a webhook with a page of its trigger history (admins).
func (s *Server) GetWebhook(ctx context.Context, req gen.GetWebhookRequestObject) (gen.GetWebhookResponseObject, error) {
	if _, err := s.admin(ctx, req.AlbumId); err != nil {
		return nil, err
	}
	p, aerr := page(req.Params.Limit, req.Params.Offset)
	if aerr != nil {
		return nil, aerr
	}
	d, err := s.store.GetWebhook(ctx, req.AlbumId, req.WebhookId, p)
	if err != nil {
		return nil, mapStoreError(err)
	}
	return gen.GetWebhook200JSONResponse{Body: webhookDetailJSON(d),
		Headers: gen.GetWebhook200ResponseHeaders{XTotalCount: d.NumberOfTriggers}}, nil
}

// UpdateWebhook edits a webhook (admins) with the rules of seed 000.
func (s *Server) UpdateWebhook(ctx context.Context, req gen.UpdateWebhookRequestObject) (gen.UpdateWebhookResponseObject, error) {
	if _, err := s.admin(ctx, req.AlbumId); err != nil {
		return nil, err
	}
	p, aerr := webhookPatch(req.Body)
	if aerr != nil {
		return nil, aerr
	}
	v, err := s.store.UpdateWebhook(ctx, req.AlbumId, req.WebhookId, p)
	if err != nil {
		return nil, mapStoreError(err)
	}
	return gen.UpdateWebhook200JSONResponse(webhookJSON(v)), nil
}

// DeleteWebhook deletes a webhook (admins).
func (s *Server) DeleteWebhook(ctx context.Context, req gen.DeleteWebhookRequestObject) (gen.DeleteWebhookResponseObject, error) {
	if _, err := s.admin(ctx, req.AlbumId); err != nil {
		return nil, err
	}
	if err := s.store.DeleteWebhook(ctx, req.AlbumId, req.WebhookId); err != nil {
		return nil, mapStoreError(err)
	}
	return gen.DeleteWebhook204Response{}, nil
}
