package server

import (
	"context"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/payload"
	"github.com/webhookd/webhookd/store"
)

var (
	errAlbumNotFound   = kheopsError(http.StatusNotFound, "Album Not Found", "the album does not exist or you are not a member of it")
	errNotAdmin        = kheopsError(http.StatusForbidden, "Forbidden", "you must be an admin of the album")
	errUserNotFound    = kheopsError(http.StatusNotFound, "User Not Found", "no such user, or not a member of the album")
	errWebhookNotFound = kheopsError(http.StatusNotFound, "Webhook Not Found", "the webhook does not exist in this album")
)

// member returns the caller's membership of the album, or the 404 that hides the album.
func (s *Server) member(ctx context.Context, albumID string) (store.AlbumMember, error) {
	m, err := s.store.Membership(ctx, albumID, principal(ctx).Subject)
	if errors.Is(err, store.ErrNotFound) {
		return m, errAlbumNotFound
	}
	return m, err
}

// admin returns the caller's membership when they are an admin of the album.
func (s *Server) admin(ctx context.Context, albumID string) (store.AlbumMember, error) {
	m, err := s.member(ctx, albumID)
	if err != nil {
		return m, err
	}
	if !m.IsAdmin {
		return m, errNotAdmin
	}
	return m, nil
}

// source describes the caller in the requests sent to webhooks.
func source(ctx context.Context, m store.AlbumMember) payload.KheopsUser {
	p := principal(ctx)
	return payload.KheopsUser{Email: p.Email, Name: p.Name, Sub: p.Subject, IsAdmin: m.IsAdmin}
}

// mapStoreError turns the store's domain errors into Kheops errors.
func mapStoreError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrUserNotFound):
		return errUserNotFound
	case errors.Is(err, store.ErrWebhookNotFound):
		return errWebhookNotFound
	case errors.Is(err, store.ErrLastAdmin):
		return badRequest("the album must keep at least one admin")
	case errors.Is(err, store.ErrNotFound):
		return errAlbumNotFound
	}
	return err
}

func albumJSON(a store.AlbumView) gen.Album {
	return gen.Album{AlbumId: a.ID, Name: a.Name, Description: a.Description, CreatedTime: a.CreatedAt,
		NumberOfUsers: a.NumberOfUsers, NumberOfStudies: a.NumberOfStudies, NumberOfSeries: a.NumberOfSeries,
		IsAdmin: a.IsAdmin}
}

// CreateAlbum creates an album administered by the caller.
func (s *Server) CreateAlbum(ctx context.Context, req gen.CreateAlbumRequestObject) (gen.CreateAlbumResponseObject, error) {
	if req.Body == nil {
		return nil, badRequest("'name' is required")
	}
	name, aerr := validateName("name", req.Body.Name)
	if aerr != nil {
		return nil, aerr
	}
	var desc string
	if req.Body.Description != nil {
		desc = *req.Body.Description
		if utf8.RuneCountInString(desc) > maxDescLength {
			return nil, badRequest("'description' is longer than %d characters", maxDescLength)
		}
	}
	a, err := s.store.CreateAlbum(ctx, principal(ctx).Subject, name, desc)
	if err != nil {
		return nil, err
	}
	return gen.CreateAlbum201JSONResponse(albumJSON(a)), nil
}

// GetAlbum returns an album to its members.
func (s *Server) GetAlbum(ctx context.Context, req gen.GetAlbumRequestObject) (gen.GetAlbumResponseObject, error) {
	m, err := s.member(ctx, req.AlbumId)
	if err != nil {
		return nil, err
	}
	a, err := s.store.GetAlbum(ctx, m)
	if err != nil {
		return nil, mapStoreError(err)
	}
	return gen.GetAlbum200JSONResponse(albumJSON(a)), nil
}

// DeleteAlbum deletes an album (admins), firing delete_album.
func (s *Server) DeleteAlbum(ctx context.Context, req gen.DeleteAlbumRequestObject) (gen.DeleteAlbumResponseObject, error) {
	m, err := s.admin(ctx, req.AlbumId)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteAlbum(ctx, req.AlbumId, source(ctx, m)); err != nil {
		return nil, mapStoreError(err)
	}
	return gen.DeleteAlbum204Response{}, nil
}

// AddAlbumUser adds a known user to an album (admins), firing new_user.
func (s *Server) AddAlbumUser(ctx context.Context, req gen.AddAlbumUserRequestObject) (gen.AddAlbumUserResponseObject, error) {
	m, err := s.admin(ctx, req.AlbumId)
	if err != nil {
		return nil, err
	}
	added, err := s.store.AddMember(ctx, req.AlbumId, req.User, source(ctx, m))
	if err != nil {
		return nil, mapStoreError(err)
	}
	if !added {
		return gen.AddAlbumUser204Response{}, nil
	}
	return gen.AddAlbumUser201Response{}, nil
}

// RemoveAlbumUser removes a member (admins, or the member themself).
func (s *Server) RemoveAlbumUser(ctx context.Context, req gen.RemoveAlbumUserRequestObject) (gen.RemoveAlbumUserResponseObject, error) {
	m, err := s.member(ctx, req.AlbumId)
	if err != nil {
		return nil, err
	}
	if !m.IsAdmin {
		self, err := s.store.FindUser(ctx, req.User)
		if err != nil || self.Sub != m.UserSub {
			return nil, errNotAdmin
		}
	}
	if err := s.store.RemoveMember(ctx, req.AlbumId, req.User); err != nil {
		return nil, mapStoreError(err)
	}
	return gen.RemoveAlbumUser204Response{}, nil
}

// PromoteAlbumAdmin makes a member an admin (admins).
func (s *Server) PromoteAlbumAdmin(ctx context.Context, req gen.PromoteAlbumAdminRequestObject) (gen.PromoteAlbumAdminResponseObject, error) {
	if _, err := s.admin(ctx, req.AlbumId); err != nil {
		return nil, err
	}
	if err := s.store.SetAdmin(ctx, req.AlbumId, req.User, true); err != nil {
		return nil, mapStoreError(err)
	}
	return gen.PromoteAlbumAdmin204Response{}, nil
}

// DemoteAlbumAdmin makes an admin a plain member (admins).
func (s *Server) DemoteAlbumAdmin(ctx context.Context, req gen.DemoteAlbumAdminRequestObject) (gen.DemoteAlbumAdminResponseObject, error) {
	if _, err := s.admin(ctx, req.AlbumId); err != nil {
		return nil, err
	}
	if err := s.store.SetAdmin(ctx, req.AlbumId, req.User, false); err != nil {
		return nil, mapStoreError(err)
	}
	return gen.DemoteAlbumAdmin204Response{}, nil
}
