package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/webhookd/webhookd/payload"
)

// Errors of album operations, wrapped by the methods that return them.
var (
	ErrUserNotFound = errors.New("user not found")
	ErrLastAdmin    = errors.New("an album needs at least one admin")
)

// AlbumView is an album as a member sees it.
type AlbumView struct {
	Album
	NumberOfUsers   int
	NumberOfStudies int
	NumberOfSeries  int
	IsAdmin         bool
}

// ProvisionUser records the user of a token, or updates the email and name they carry.
func (s *Store) ProvisionUser(ctx context.Context, u User) error {
	u.CreatedAt = time.Now().UTC()
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "sub"}},
		DoUpdates: clause.Assignments(map[string]any{
			"email": gorm.Expr("excluded.email"),
			"name":  gorm.Expr("excluded.name"),
		}),
		Where: clause.Where{Exprs: []clause.Expression{
			gorm.Expr("users.email <> excluded.email OR users.name <> excluded.name"),
		}},
	}).Create(&u).Error
	if err != nil {
		return fmt.Errorf("provision user: %w", err)
	}
	return nil
}

// FindUser finds a user by sub, else by email.
func (s *Store) FindUser(ctx context.Context, ref string) (User, error) {
	return findUser(s.db.WithContext(ctx), ref)
}

func findUser(db *gorm.DB, ref string) (User, error) {
	var users []User
	if err := db.Where("sub = ? OR email = ?", ref, ref).Limit(2).Find(&users).Error; err != nil {
		return User{}, fmt.Errorf("find user: %w", err)
	}
	for _, u := range users {
		if u.Sub == ref {
			return u, nil
		}
	}
	if len(users) == 0 {
		return User{}, fmt.Errorf("%q: %w", ref, ErrUserNotFound)
	}
	return users[0], nil
}

// CreateAlbum creates an album whose first member and admin is owner.
func (s *Store) CreateAlbum(ctx context.Context, owner string, name, description string) (AlbumView, error) {
	now := time.Now().UTC()
	var album Album
	for try := 0; ; try++ {
		album = Album{ID: s.cfg.NewID(AlbumIDLength), Name: name, Description: description, CreatedAt: now}
		err := s.transaction(ctx, func(tx *gorm.DB) error {
			if err := tx.Create(&album).Error; err != nil {
				return fmt.Errorf("insert album: %w", err)
			}
			return tx.Create(&AlbumMember{AlbumID: album.ID, UserSub: owner, IsAdmin: true, CreatedAt: now}).Error
		})
		if errors.Is(err, gorm.ErrDuplicatedKey) && try < 3 {
			continue // an id drawn twice: draw again (in a new transaction: PostgreSQL aborts this one)
		}
		if err != nil {
			return AlbumView{}, fmt.Errorf("create album: %w", err)
		}
		break
	}
	return AlbumView{Album: album, NumberOfUsers: 1, IsAdmin: true}, nil
}

// Membership returns sub's membership of the album; ErrNotFound when the album does not exist
// or sub is not a member (the two are not told apart).
func (s *Store) Membership(ctx context.Context, albumID, sub string) (AlbumMember, error) {
	var m AlbumMember
	err := s.db.WithContext(ctx).Where("album_id = ? AND user_sub = ?", albumID, sub).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return m, fmt.Errorf("album %q: %w", albumID, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("read membership: %w", err)
	}
	return m, nil
}

// GetAlbum returns the album with its counts, as member m sees it.
func (s *Store) GetAlbum(ctx context.Context, m AlbumMember) (AlbumView, error) {
	var row struct {
		Album
		NumberOfUsers   int
		NumberOfStudies int
		NumberOfSeries  int
	}
	err := s.db.WithContext(ctx).Model(&Album{}).
		Select(`albums.*,
			(SELECT COUNT(*) FROM album_members WHERE album_id = albums.id) AS number_of_users,
			(SELECT COUNT(DISTINCT study_uid) FROM album_series WHERE album_id = albums.id) AS number_of_studies,
			(SELECT COUNT(*) FROM album_series WHERE album_id = albums.id) AS number_of_series`).
		Where("id = ?", m.AlbumID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return AlbumView{}, fmt.Errorf("album %q: %w", m.AlbumID, ErrNotFound)
	}
	if err != nil {
		return AlbumView{}, fmt.Errorf("read album: %w", err)
	}
	return AlbumView{Album: row.Album, NumberOfUsers: row.NumberOfUsers, NumberOfStudies: row.NumberOfStudies,
		NumberOfSeries: row.NumberOfSeries, IsAdmin: m.IsAdmin}, nil
}

// DeleteAlbum deletes the album with its members, series and webhooks, and creates a
// delete_album delivery for each enabled webhook subscribed to it, in the same transaction.
func (s *Store) DeleteAlbum(ctx context.Context, albumID string, source payload.KheopsUser) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		hooks, err := subscribedWebhooks(tx, albumID, EventDeleteAlbum)
		if err != nil {
			return err
		}
		if err := tx.Where("webhook_id IN (?)", tx.Model(&AlbumWebhook{}).Select("id").Where("album_id = ?", albumID)).
			Delete(&Delivery{}).Error; err != nil {
			return fmt.Errorf("delete deliveries: %w", err)
		}
		if err := tx.Where("id = ?", albumID).Delete(&Album{}).Error; err != nil {
			return fmt.Errorf("delete album: %w", err)
		}
		body := s.kheopsBody(albumID, source, false)
		return s.createKheopsDeliveries(ctx, tx, hooks, EventDeleteAlbum, body, deliveryRefs{})
	})
}

// AddMember adds the user named by userRef (sub or email) to the album. It reports false when
// they were already a member. A new member fires new_user.
func (s *Store) AddMember(ctx context.Context, albumID, userRef string, source payload.KheopsUser) (bool, error) {
	added := false
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		u, err := findUser(tx, userRef)
		if err != nil {
			return err
		}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&AlbumMember{AlbumID: albumID, UserSub: u.Sub, CreatedAt: time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("insert member: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		added = true
		hooks, err := subscribedWebhooks(tx, albumID, EventNewUser)
		if err != nil {
			return err
		}
		body := s.kheopsBody(albumID, source, false)
		body.NewUser = &payload.KheopsUser{Email: u.Email, Name: u.Name, Sub: u.Sub}
		return s.createKheopsDeliveries(ctx, tx, hooks, EventNewUser, body, deliveryRefs{UserSub: &u.Sub})
	})
	return added, err
}

// RemoveMember removes the user named by userRef from the album. The last admin cannot leave
// while other members remain; when the last member leaves, the album stays without members
// (and is reachable by nobody) as in Kheops.
func (s *Store) RemoveMember(ctx context.Context, albumID, userRef string) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		m, err := memberByRef(tx, albumID, userRef)
		if err != nil {
			return err
		}
		if m.IsAdmin {
			if err := ensureOtherAdmin(tx, albumID, m.UserSub, true); err != nil {
				return err
			}
		}
		return tx.Where("album_id = ? AND user_sub = ?", albumID, m.UserSub).Delete(&AlbumMember{}).Error
	})
}

// SetAdmin makes a member an admin or a plain member. The last admin cannot be demoted.
func (s *Store) SetAdmin(ctx context.Context, albumID, userRef string, admin bool) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		m, err := memberByRef(tx, albumID, userRef)
		if err != nil {
			return err
		}
		if m.IsAdmin == admin {
			return nil
		}
		if !admin {
			if err := ensureOtherAdmin(tx, albumID, m.UserSub, false); err != nil {
				return err
			}
		}
		return tx.Model(&AlbumMember{}).Where("album_id = ? AND user_sub = ?", albumID, m.UserSub).
			Update("is_admin", admin).Error
	})
}

func memberByRef(tx *gorm.DB, albumID, userRef string) (AlbumMember, error) {
	u, err := findUser(tx, userRef)
	if err != nil {
		return AlbumMember{}, err
	}
	var m AlbumMember
	err = tx.Where("album_id = ? AND user_sub = ?", albumID, u.Sub).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return m, fmt.Errorf("%q is not a member: %w", userRef, ErrUserNotFound)
	}
	return m, err
}

// ensureOtherAdmin fails with ErrLastAdmin when sub is the album's only admin (and, when
// leaving, other members would remain without one).
func ensureOtherAdmin(tx *gorm.DB, albumID, sub string, leaving bool) error {
	var admins, members int64
	if err := tx.Model(&AlbumMember{}).Where("album_id = ? AND is_admin AND user_sub <> ?", albumID, sub).
		Count(&admins).Error; err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if admins > 0 {
		return nil
	}
	if leaving {
		if err := tx.Model(&AlbumMember{}).Where("album_id = ? AND user_sub <> ?", albumID, sub).
			Count(&members).Error; err != nil {
			return fmt.Errorf("count members: %w", err)
		}
		if members == 0 {
			return nil
		}
	}
	return ErrLastAdmin
}

func subscribedWebhooks(tx *gorm.DB, albumID string, event KheopsEvent) ([]AlbumWebhook, error) {
	var hooks []AlbumWebhook
	err := tx.Where("album_id = ? AND enabled AND (events & ?) <> 0", albumID, int(EventSet(0).With(event))).
		Order("created_at, id").Find(&hooks).Error
	if err != nil {
		return nil, fmt.Errorf("find subscribed webhooks: %w", err)
	}
	return hooks, nil
}
