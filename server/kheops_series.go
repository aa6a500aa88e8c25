package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

var errSeriesNotFound = kheopsError(http.StatusNotFound, "Series Not Found", "the series or study is not in the album")

// maxUIDLength is the longest DICOM UID (PS3.5 §9.1).
const maxUIDLength = 64

// validUID tells whether uid is a DICOM UID: 1 to 64 characters, components of digits separated
// by single dots, no component with a leading zero unless it is "0".
func validUID(uid string) bool {
	if len(uid) == 0 || len(uid) > maxUIDLength {
		return false
	}
	start := 0
	for i := 0; i <= len(uid); i++ {
		if i < len(uid) && uid[i] != '.' {
			if uid[i] < '0' || uid[i] > '9' {
				return false
			}
			continue
		}
		// uid[start:i] is a component.
		if i == start || (uid[start] == '0' && i-start > 1) {
			return false
		}
		start = i + 1
	}
	return true
}

// validateUID answers 400 when value (the parameter field) is not a DICOM UID.
func validateUID(field, value string) *apiError {
	if !validUID(value) {
		return badRequest("'%s' is not a valid DICOM UID (digits and dots, at most %d characters, no leading zero in a component): %q",
			field, maxUIDLength, value)
	}
	return nil
}

// mapSeriesError maps the store's errors of series operations to Kheops errors.
func mapSeriesError(err error) error {
	if errors.Is(err, store.ErrSeriesNotFound) {
		return errSeriesNotFound
	}
	return mapStoreError(err)
}

// AddSeriesToAlbum shares a series in an album (members): 201, or 204 when it was already there.
// new_series fires once the study has been quiet (store.FlushNewSeries).
func (s *Server) AddSeriesToAlbum(ctx context.Context, req gen.AddSeriesToAlbumRequestObject) (gen.AddSeriesToAlbumResponseObject, error) {
	if err := validateUID("StudyInstanceUID", req.StudyInstanceUID); err != nil {
		return nil, err
	}
	if err := validateUID("SeriesInstanceUID", req.SeriesInstanceUID); err != nil {
		return nil, err
	}
	m, err := s.member(ctx, req.AlbumId)
	if err != nil {
		return nil, err
	}
	added, err := s.store.AddSeries(ctx, req.AlbumId, req.StudyInstanceUID, req.SeriesInstanceUID, source(ctx, m))
	if err != nil {
		return nil, mapSeriesError(err)
	}
	if !added {
		return gen.AddSeriesToAlbum204Response{}, nil
	}
	return gen.AddSeriesToAlbum201Response{}, nil
}

// RemoveSeriesFromAlbum removes a series from an album (admins), firing remove_series.
func (s *Server) RemoveSeriesFromAlbum(ctx context.Context, req gen.RemoveSeriesFromAlbumRequestObject) (gen.RemoveSeriesFromAlbumResponseObject, error) {
	if err := validateUID("StudyInstanceUID", req.StudyInstanceUID); err != nil {
		return nil, err
	}
	if err := validateUID("SeriesInstanceUID", req.SeriesInstanceUID); err != nil {
		return nil, err
	}
	m, err := s.admin(ctx, req.AlbumId)
	if err != nil {
		return nil, err
	}
	if err := s.store.RemoveSeries(ctx, req.AlbumId, req.StudyInstanceUID, req.SeriesInstanceUID, source(ctx, m)); err != nil {
		return nil, mapSeriesError(err)
	}
	return gen.RemoveSeriesFromAlbum204Response{}, nil
}

// RemoveStudyFromAlbum removes every series of a study from an album (admins), firing
// remove_series with remove_all_series true.
func (s *Server) RemoveStudyFromAlbum(ctx context.Context, req gen.RemoveStudyFromAlbumRequestObject) (gen.RemoveStudyFromAlbumResponseObject, error) {
	if err := validateUID("StudyInstanceUID", req.StudyInstanceUID); err != nil {
		return nil, err
	}
	m, err := s.admin(ctx, req.AlbumId)
	if err != nil {
		return nil, err
	}
	if err := s.store.RemoveStudy(ctx, req.AlbumId, req.StudyInstanceUID, source(ctx, m)); err != nil {
		return nil, mapSeriesError(err)
	}
	return gen.RemoveStudyFromAlbum204Response{}, nil
}
