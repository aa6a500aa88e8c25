package server

import (
	"context"
	"strings"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

// Details of the 400s of a manual trigger (reference/kheops.md, "manual trigger").
const (
	detailTriggerEvent    = "'event' must be set to new_series or new_user"
	detailTriggerBadEvent = "'event' %q cannot be triggered manually: use new_series or new_user"
	detailTriggerXor      = "use either 'StudyInstanceUID' and 'SeriesInstanceUID' (event new_series) or 'user' (event new_user), not both"
	detailTriggerSeries   = "'StudyInstanceUID' and at least one 'SeriesInstanceUID' must be set with event new_series"
	detailTriggerUser     = "'user' must be set with event new_user"
)

// manualTrigger validates a trigger form: exactly one of the two forms, UIDs that are DICOM UIDs.
func manualTrigger(f *gen.TriggerForm) (store.ManualTrigger, *apiError) {
	var t store.ManualTrigger
	if f == nil || strings.TrimSpace(string(f.Event)) == "" {
		return t, badRequest(detailTriggerEvent)
	}
	e, err := store.ParseKheopsEvent(strings.TrimSpace(string(f.Event)))
	if err != nil || (e != store.EventNewSeries && e != store.EventNewUser) {
		return t, badRequest(detailTriggerBadEvent, f.Event)
	}
	t.Event = e
	hasSeries := f.StudyInstanceUID != nil || (f.SeriesInstanceUID != nil && len(*f.SeriesInstanceUID) > 0)
	switch e {
	case store.EventNewSeries:
		if f.User != nil {
			return t, badRequest(detailTriggerXor)
		}
		if f.StudyInstanceUID == nil || f.SeriesInstanceUID == nil || len(*f.SeriesInstanceUID) == 0 {
			return t, badRequest(detailTriggerSeries)
		}
		if err := validateUID("StudyInstanceUID", *f.StudyInstanceUID); err != nil {
			return t, err
		}
		for _, uid := range *f.SeriesInstanceUID {
			if err := validateUID("SeriesInstanceUID", uid); err != nil {
				return t, err
			}
		}
		t.StudyUID, t.SeriesUIDs = *f.StudyInstanceUID, *f.SeriesInstanceUID
	default: // new_user
		if hasSeries {
			return t, badRequest(detailTriggerXor)
		}
		if f.User == nil || strings.TrimSpace(*f.User) == "" {
			return t, badRequest(detailTriggerUser)
		}
		t.User = strings.TrimSpace(*f.User)
	}
	return t, nil
}

// TriggerWebhook sends one request of a webhook now (admins): 202. It fires even when the
// webhook is disabled or not subscribed to the event, marked is_manual_trigger.
func (s *Server) TriggerWebhook(ctx context.Context, req gen.TriggerWebhookRequestObject) (gen.TriggerWebhookResponseObject, error) {
	m, err := s.admin(ctx, req.AlbumId)
	if err != nil {
		return nil, err
	}
	t, aerr := manualTrigger(req.Body)
	if aerr != nil {
		return nil, aerr
	}
	if err := s.store.TriggerWebhook(ctx, req.AlbumId, req.WebhookId, t, source(ctx, m)); err != nil {
		return nil, mapSeriesError(err)
	}
	return gen.TriggerWebhook202Response{}, nil
}
