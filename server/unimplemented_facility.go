package server

import (
	"context"

	"github.com/webhookd/webhookd/gen"
)

// Facility and user webhook operations, being written (issue 3).

func (s *Server) ListFacilityWebhooks(ctx context.Context, req gen.ListFacilityWebhooksRequestObject) (gen.ListFacilityWebhooksResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) CreateFacilityWebhook(ctx context.Context, req gen.CreateFacilityWebhookRequestObject) (gen.CreateFacilityWebhookResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) GetFacilityWebhook(ctx context.Context, req gen.GetFacilityWebhookRequestObject) (gen.GetFacilityWebhookResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) UpdateFacilityWebhook(ctx context.Context, req gen.UpdateFacilityWebhookRequestObject) (gen.UpdateFacilityWebhookResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) DeleteFacilityWebhook(ctx context.Context, req gen.DeleteFacilityWebhookRequestObject) (gen.DeleteFacilityWebhookResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) ListUserWebhooks(ctx context.Context, req gen.ListUserWebhooksRequestObject) (gen.ListUserWebhooksResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) CreateUserWebhook(ctx context.Context, req gen.CreateUserWebhookRequestObject) (gen.CreateUserWebhookResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) GetUserWebhook(ctx context.Context, req gen.GetUserWebhookRequestObject) (gen.GetUserWebhookResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) UpdateUserWebhook(ctx context.Context, req gen.UpdateUserWebhookRequestObject) (gen.UpdateUserWebhookResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) DeleteUserWebhook(ctx context.Context, req gen.DeleteUserWebhookRequestObject) (gen.DeleteUserWebhookResponseObject, error) {
	return nil, errNotImplemented
}
