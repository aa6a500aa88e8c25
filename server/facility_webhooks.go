package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

// Facility and user webhooks of the staffing platform's public API. Their bodies were checked
// by validateWebhookBodies; here are the rules that need the caller: ownership (the token's
// application) and facility access (the token's facilities).

var (
	errFacilityWebhookNotFound = nestError(http.StatusNotFound, "Webhook not found")
	errForbiddenFacility       = nestError(http.StatusForbidden, "Forbidden Resource")
)

// webhookID returns the canonical (lower-case) form of a webhook id; false when it is not a
// UUID in its 36-character form, which no webhook has.
func facilityWebhookID(id string) (string, bool) {
	if len(id) != 36 {
		return "", false
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", false
	}
	return strings.ToLower(id), true
}

// facilitiesAllowed tells whether every facility is in the caller's token.
func facilitiesAllowed(facilities, allowed []string) bool {
	for _, f := range facilities {
		if !slices.Contains(allowed, f) {
			return false
		}
	}
	return true
}

// newSecrets returns the secrets of a new webhook: those sent, or one generated.
func newSecrets(sent *[]string) []string {
	if sent != nil {
		return *sent
	}
	return []string{store.RandomString(store.SecretLength)}
}

// webhookError maps the store's errors of the family.
func facilityWebhookError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errFacilityWebhookNotFound
	}
	return err
}

func facilityEvents(events []string) []gen.FacilityEvent {
	out := make([]gen.FacilityEvent, len(events))
	for i, e := range events {
		out[i] = gen.FacilityEvent(e)
	}
	return out
}

func userEvents(events []string) []gen.UserEvent {
	out := make([]gen.UserEvent, len(events))
	for i, e := range events {
		out[i] = gen.UserEvent(e)
	}
	return out
}

func stringsOf[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func optionalStrings[T ~string](values *[]T) *[]string {
	if values == nil {
		return nil
	}
	out := stringsOf(*values)
	return &out
}

func facilityWebhookJSON(w store.FacilityWebhook) gen.FacilityWebhook {
	return gen.FacilityWebhook{Id: uuid.MustParse(w.ID), Url: w.URL, Events: facilityEvents(w.Events),
		ClientId: w.ClientID, Facilities: nonNilStrings(w.Facilities), Secrets: nonNilStrings(w.Secrets),
		Enabled: w.Enabled, DisabledReason: w.DisabledReason}
}

func userWebhookJSON(w store.FacilityWebhook) gen.UserWebhook {
	return gen.UserWebhook{Id: uuid.MustParse(w.ID), Url: w.URL, Events: userEvents(w.Events),
		ClientId: w.ClientID, Secrets: nonNilStrings(w.Secrets), Enabled: w.Enabled, DisabledReason: w.DisabledReason}
}

func nonNilStrings(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// ListFacilityWebhooks lists the caller application's facility webhooks, newest first.
func (s *Server) ListFacilityWebhooks(ctx context.Context, _ gen.ListFacilityWebhooksRequestObject) (gen.ListFacilityWebhooksResponseObject, error) {
	hooks, err := s.store.ListFacilityWebhooks(ctx, principal(ctx).ClientID, store.FamilyFacility)
	if err != nil {
		return nil, err
	}
	out := gen.ListFacilityWebhooks200JSONResponse{Data: make([]gen.FacilityWebhook, len(hooks))}
	for i, w := range hooks {
		out.Data[i] = facilityWebhookJSON(w)
	}
	return out, nil
}

// CreateFacilityWebhook creates a facility webhook for the caller's application. Facilities
// left out are the token's; any outside the token is a 403.
func (s *Server) CreateFacilityWebhook(ctx context.Context, req gen.CreateFacilityWebhookRequestObject) (gen.CreateFacilityWebhookResponseObject, error) {
	p := principal(ctx)
	b := req.Body
	facilities := p.Facilities
	if b.Facilities != nil {
		facilities = *b.Facilities
		if !facilitiesAllowed(facilities, p.Facilities) {
			return nil, errForbiddenFacility
		}
	}
	w, err := s.store.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: store.FamilyFacility, ClientID: p.ClientID,
		URL: b.Url, Events: stringsOf(b.Events), Facilities: facilities, Secrets: newSecrets(b.Secrets)})
	if err != nil {
		return nil, err
	}
	return gen.CreateFacilityWebhook201JSONResponse{Data: facilityWebhookJSON(w)}, nil
}

// GetFacilityWebhook returns one of the caller application's facility webhooks.
func (s *Server) GetFacilityWebhook(ctx context.Context, req gen.GetFacilityWebhookRequestObject) (gen.GetFacilityWebhookResponseObject, error) {
	id, ok := facilityWebhookID(req.WebhookId)
	if !ok {
		return nil, errFacilityWebhookNotFound
	}
	w, err := s.store.GetFacilityWebhook(ctx, principal(ctx).ClientID, store.FamilyFacility, id)
	if err != nil {
		return nil, facilityWebhookError(err)
	}
	return gen.GetFacilityWebhook200JSONResponse{Data: facilityWebhookJSON(w)}, nil
}

// UpdateFacilityWebhook applies the fields sent to one of the caller application's facility
// webhooks (seed "Update Webhook"), and answers 201. Facilities sent must all be in the token:
// else 403, once the webhook is known to exist (404 first).
func (s *Server) UpdateFacilityWebhook(ctx context.Context, req gen.UpdateFacilityWebhookRequestObject) (gen.UpdateFacilityWebhookResponseObject, error) {
	id, ok := facilityWebhookID(req.WebhookId)
	if !ok {
		return nil, errFacilityWebhookNotFound
	}
	p := principal(ctx)
	b := req.Body
	if b.Facilities != nil && !facilitiesAllowed(*b.Facilities, p.Facilities) {
		if _, err := s.store.GetFacilityWebhook(ctx, p.ClientID, store.FamilyFacility, id); err != nil {
			return nil, facilityWebhookError(err)
		}
		return nil, errForbiddenFacility
	}
	w, err := s.store.UpdateFacilityWebhook(ctx, p.ClientID, store.FamilyFacility, id, store.FacilityWebhookPatch{
		URL: b.Url, Events: optionalStrings(b.Events), Facilities: b.Facilities, Secrets: b.Secrets, Enabled: b.Enabled})
	if err != nil {
		return nil, facilityWebhookError(err)
	}
	return gen.UpdateFacilityWebhook201JSONResponse{Data: facilityWebhookJSON(w)}, nil
}

// DeleteFacilityWebhook deletes one of the caller application's facility webhooks.
func (s *Server) DeleteFacilityWebhook(ctx context.Context, req gen.DeleteFacilityWebhookRequestObject) (gen.DeleteFacilityWebhookResponseObject, error) {
	id, ok := facilityWebhookID(req.WebhookId)
	if !ok {
		return nil, errFacilityWebhookNotFound
	}
	if err := s.store.DeleteFacilityWebhook(ctx, principal(ctx).ClientID, store.FamilyFacility, id); err != nil {
		return nil, facilityWebhookError(err)
	}
	return gen.DeleteFacilityWebhook204Response{}, nil
}

// ListUserWebhooks lists the caller application's user webhooks, newest first.
func (s *Server) ListUserWebhooks(ctx context.Context, _ gen.ListUserWebhooksRequestObject) (gen.ListUserWebhooksResponseObject, error) {
	hooks, err := s.store.ListFacilityWebhooks(ctx, principal(ctx).ClientID, store.FamilyUser)
	if err != nil {
		return nil, err
	}
	out := gen.ListUserWebhooks200JSONResponse{Data: make([]gen.UserWebhook, len(hooks))}
	for i, w := range hooks {
		out.Data[i] = userWebhookJSON(w)
	}
	return out, nil
}

// CreateUserWebhook creates a user webhook for the caller's application.
func (s *Server) CreateUserWebhook(ctx context.Context, req gen.CreateUserWebhookRequestObject) (gen.CreateUserWebhookResponseObject, error) {
	b := req.Body
	w, err := s.store.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: store.FamilyUser, ClientID: principal(ctx).ClientID,
		URL: b.Url, Events: stringsOf(b.Events), Secrets: newSecrets(b.Secrets)})
	if err != nil {
		return nil, err
	}
	return gen.CreateUserWebhook201JSONResponse{Data: userWebhookJSON(w)}, nil
}

// GetUserWebhook returns one of the caller application's user webhooks.
func (s *Server) GetUserWebhook(ctx context.Context, req gen.GetUserWebhookRequestObject) (gen.GetUserWebhookResponseObject, error) {
	id, ok := facilityWebhookID(req.WebhookId)
	if !ok {
		return nil, errFacilityWebhookNotFound
	}
	w, err := s.store.GetFacilityWebhook(ctx, principal(ctx).ClientID, store.FamilyUser, id)
	if err != nil {
		return nil, facilityWebhookError(err)
	}
	return gen.GetUserWebhook200JSONResponse{Data: userWebhookJSON(w)}, nil
}

// UpdateUserWebhook applies the fields sent to one of the caller application's user webhooks,
// and answers 201.
func (s *Server) UpdateUserWebhook(ctx context.Context, req gen.UpdateUserWebhookRequestObject) (gen.UpdateUserWebhookResponseObject, error) {
	id, ok := facilityWebhookID(req.WebhookId)
	if !ok {
		return nil, errFacilityWebhookNotFound
	}
	b := req.Body
	w, err := s.store.UpdateFacilityWebhook(ctx, principal(ctx).ClientID, store.FamilyUser, id, store.FacilityWebhookPatch{
		URL: b.Url, Events: optionalStrings(b.Events), Secrets: b.Secrets, Enabled: b.Enabled})
	if err != nil {
		return nil, facilityWebhookError(err)
	}
	return gen.UpdateUserWebhook201JSONResponse{Data: userWebhookJSON(w)}, nil
}

// DeleteUserWebhook deletes one of the caller application's user webhooks.
func (s *Server) DeleteUserWebhook(ctx context.Context, req gen.DeleteUserWebhookRequestObject) (gen.DeleteUserWebhookResponseObject, error) {
	id, ok := facilityWebhookID(req.WebhookId)
	if !ok {
		return nil, errFacilityWebhookNotFound
	}
	if err := s.store.DeleteFacilityWebhook(ctx, principal(ctx).ClientID, store.FamilyUser, id); err != nil {
		return nil, facilityWebhookError(err)
	}
	return gen.DeleteUserWebhook204Response{}, nil
}
