package server

import (
	"context"
	"net/http"

	"github.com/webhookd/webhookd/gen"
)

// Operations whose implementation is being written. Each moves to its own file when done.

var errNotImplemented = &apiError{status: http.StatusNotImplemented, message: "Not Implemented", detail: "not implemented yet"}

func (s *Server) TriggerWebhook(ctx context.Context, req gen.TriggerWebhookRequestObject) (gen.TriggerWebhookResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) AddSeriesToAlbum(ctx context.Context, req gen.AddSeriesToAlbumRequestObject) (gen.AddSeriesToAlbumResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) RemoveSeriesFromAlbum(ctx context.Context, req gen.RemoveSeriesFromAlbumRequestObject) (gen.RemoveSeriesFromAlbumResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) RemoveStudyFromAlbum(ctx context.Context, req gen.RemoveStudyFromAlbumRequestObject) (gen.RemoveStudyFromAlbumResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) PublishFacilityEvent(ctx context.Context, req gen.PublishFacilityEventRequestObject) (gen.PublishFacilityEventResponseObject, error) {
	return nil, errNotImplemented
}
func (s *Server) PublishUserEvent(ctx context.Context, req gen.PublishUserEventRequestObject) (gen.PublishUserEventResponseObject, error) {
	return nil, errNotImplemented
}
