package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrWebhookNotFound is returned (wrapped) for a webhook that is not in the album.
var ErrWebhookNotFound = errors.New("webhook not found")

// TriggerSummary is a delivery as the webhook lists show it.
type TriggerSummary struct {
	ID      string
	Success bool
}

// WebhookView is an album webhook with its delivery counters.
type WebhookView struct {
	AlbumWebhook
	NumberOfTriggers int
	// LastTriggers are the 5 most recent deliveries, most recent first.
	LastTriggers []TriggerSummary
}

// Trigger is a delivery in a webhook's history.
type Trigger struct {
	Delivery
	User     *User
	Series   []string
	Attempts []DeliveryAttempt // most recent first
}

// WebhookDetail is an album webhook with a page of its history.
type WebhookDetail struct {
	AlbumWebhook
	NumberOfTriggers int
	Triggers         []Trigger
}

// WebhookPatch is an edit of an album webhook; nil fields are kept.
type WebhookPatch struct {
	URL     *string
	Name    *string
	Secret  *string // "" removes the secret
	Events  *EventSet
	Add     EventSet
	Remove  EventSet
	Enabled *bool
}

// Page bounds a list: Limit < 0 means no limit.
type Page struct {
	Limit  int
	Offset int
}

// CreateWebhook stores a new album webhook.
func (s *Store) CreateWebhook(ctx context.Context, w AlbumWebhook) (WebhookView, error) {
	w.CreatedAt = time.Now().UTC()
	for try := 0; ; try++ {
		w.ID = s.cfg.NewID(WebhookIDLength)
		err := s.db.WithContext(ctx).Create(&w).Error
		if errors.Is(err, gorm.ErrDuplicatedKey) && try < 3 {
			continue
		}
		if err != nil {
			return WebhookView{}, fmt.Errorf("insert webhook: %w", err)
		}
		return WebhookView{AlbumWebhook: w}, nil
	}
}

// WebhookList is a page of an album's webhooks as one of its members reads it.
type WebhookList struct {
	// IsAdmin tells whether the member is an admin of the album. Only admins read webhooks: for
	// other members Webhooks is empty and Total 0.
	IsAdmin bool
	// Webhooks is the page, most recent first.
	Webhooks []WebhookView
	// Total counts the album's webhooks (with the url asked for), whatever the page.
	Total int64
}

// ListWebhooks returns a page of the album's webhooks, most recent first, with their total, as
// the member sub reads them; an error wrapping ErrNotFound when sub is not a member. It runs one
// statement whatever the page size: the membership, the total (a count through the album's
// index), the page and each webhook's last 5 triggers (kept on its row: last_triggers.go),
// scanned by hand.
func (s *Store) ListWebhooks(ctx context.Context, albumID, sub string, url *string, page Page) (WebhookList, error) {
	// byURL narrows the count and the page to the url asked for; args follow the statement's order.
	byURL, count, pageArgs := "", []any{}, []any{albumID}
	if url != nil {
		byURL, count, pageArgs = " AND w.url = ?", []any{*url}, []any{albumID, *url}
	}
	args := append(append(append(count, albumID, sub), pageArgs...), page.Offset)
	// The member's row is read apart (LIMIT 1 keeps the planners from merging it into the join)
	// so that the count runs once, not once per webhook of the page.
	q := `SELECT m.is_admin, m.total,
			p.id, p.url, p.name, p.secret, p.events, p.enabled, p.disabled_reason, p.created_at,
			p.number_of_triggers, p.last_triggers
		FROM (SELECT m.is_admin, CASE WHEN m.is_admin THEN (SELECT COUNT(*) FROM album_webhooks w
				WHERE w.album_id = m.album_id` + byURL + `) ELSE 0 END AS total
			FROM album_members m WHERE m.album_id = ? AND m.user_sub = ? LIMIT 1) m
		LEFT JOIN (SELECT * FROM album_webhooks w WHERE w.album_id = ?` + byURL + `
			ORDER BY w.created_at DESC, w.id DESC ` + s.limitClause(page.Limit) + ` OFFSET ?) p ON m.is_admin
		ORDER BY p.created_at DESC, p.id DESC`
	rows, err := s.db.WithContext(ctx).Raw(q, args...).Rows()
	if err != nil {
		return WebhookList{}, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	list := WebhookList{Webhooks: make([]WebhookView, 0, min(max(page.Limit, 0), 100))}
	member := false
	for rows.Next() {
		member = true
		var (
			id, url, name, secret, reason, triggers sql.NullString
			events, count                           sql.NullInt64
			enabled                                 sql.NullBool
			created                                 sql.NullTime
		)
		if err := rows.Scan(&list.IsAdmin, &list.Total, &id, &url, &name, &secret, &events, &enabled, &reason, &created,
			&count, &triggers); err != nil {
			return WebhookList{}, fmt.Errorf("list webhooks: %w", err)
		}
		if !id.Valid { // a member whose page is empty
			continue
		}
		v := WebhookView{AlbumWebhook: AlbumWebhook{ID: id.String, AlbumID: albumID, URL: url.String, Name: name.String,
			Events: EventSet(events.Int64), Enabled: enabled.Bool, CreatedAt: created.Time, Triggers: int(count.Int64)},
			NumberOfTriggers: int(count.Int64)}
		if secret.Valid {
			v.Secret = &secret.String
		}
		if reason.Valid {
			v.DisabledReason = &reason.String
		}
		if v.LastTriggers, err = parseLastTriggers(triggers.String); err != nil {
			return WebhookList{}, fmt.Errorf("list webhooks: webhook %s: %w", v.ID, err)
		}
		list.Webhooks = append(list.Webhooks, v)
	}
	if err := rows.Err(); err != nil {
		return WebhookList{}, fmt.Errorf("list webhooks: %w", err)
	}
	if !member {
		return WebhookList{}, fmt.Errorf("album %q: %w", albumID, ErrNotFound)
	}
	return list, nil
}

// lastTriggers reads the 5 newest deliveries of the webhook w, newest first.
func (s *Store) lastTriggers(db *gorm.DB, w AlbumWebhook) ([]TriggerSummary, error) {
	var triggers sql.NullString
	err := db.Raw("SELECT last_triggers FROM album_webhooks WHERE id = ?", w.ID).Row().Scan(&triggers)
	if err != nil {
		return nil, fmt.Errorf("read last triggers: %w", err)
	}
	return parseLastTriggers(triggers.String)
}

// GetWebhook returns the album's webhook with a page of its history, most recent first.
// Three statements whatever the page size: webhook, page of deliveries (with their users),
// their attempts.
func (s *Store) GetWebhook(ctx context.Context, albumID, id string, page Page) (WebhookDetail, error) {
	db := s.db.WithContext(ctx)
	w, err := getWebhook(db, albumID, id)
	if err != nil {
		return WebhookDetail{}, err
	}
	detail := WebhookDetail{AlbumWebhook: w, NumberOfTriggers: w.Triggers, Triggers: []Trigger{}}
	var rows []struct {
		Delivery
		UEmail *string `gorm:"column:u_email"`
		UName  *string `gorm:"column:u_name"`
	}
	err = db.Raw(`SELECT d.*, u.email AS u_email, u.name AS u_name
		FROM deliveries d LEFT JOIN users u ON u.sub = d.user_sub
		WHERE d.webhook_id = ? ORDER BY d.created_at DESC, d.id DESC `+s.limitClause(page.Limit)+` OFFSET ?`,
		id, page.Offset).Scan(&rows).Error
	if err != nil {
		return WebhookDetail{}, fmt.Errorf("read triggers: %w", err)
	}
	ids := make([]string, len(rows))
	index := make(map[string]int, len(rows))
	for i, r := range rows {
		t := Trigger{Delivery: r.Delivery, Attempts: nil}
		if r.UserSub != nil {
			t.User = &User{Sub: *r.UserSub}
			if r.UEmail != nil {
				t.User.Email, t.User.Name = *r.UEmail, deref(r.UName)
			}
		}
		if r.SeriesUIDs != nil {
			_ = json.Unmarshal([]byte(*r.SeriesUIDs), &t.Series)
		}
		detail.Triggers = append(detail.Triggers, t)
		ids[i] = r.ID
		index[r.ID] = i
	}
	if len(ids) > 0 {
		var attempts []DeliveryAttempt
		if err := db.Where("delivery_id IN ?", ids).Order("attempt DESC").Find(&attempts).Error; err != nil {
			return WebhookDetail{}, fmt.Errorf("read attempts: %w", err)
		}
		for _, a := range attempts {
			t := &detail.Triggers[index[a.DeliveryID]]
			t.Attempts = append(t.Attempts, a)
		}
	}
	return detail, nil
}

// limitClause spells "LIMIT n", or no limit when n < 0, in the store's dialect.
func (s *Store) limitClause(limit int) string {
	if limit < 0 {
		if s.dialect == Postgres {
			return "LIMIT ALL"
		}
		return "LIMIT -1"
	}
	return fmt.Sprintf("LIMIT %d", limit)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func getWebhook(db *gorm.DB, albumID, id string) (AlbumWebhook, error) {
	var w AlbumWebhook
	err := db.Where("id = ? AND album_id = ?", id, albumID).Take(&w).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return w, fmt.Errorf("%q: %w", id, ErrWebhookNotFound)
	}
	if err != nil {
		return w, fmt.Errorf("read webhook: %w", err)
	}
	return w, nil
}

// UpdateWebhook applies p to the album's webhook, whole or not at all, and returns it with its
// counters.
func (s *Store) UpdateWebhook(ctx context.Context, albumID, id string, p WebhookPatch) (WebhookView, error) {
	var w AlbumWebhook
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		q := tx
		if s.dialect == Postgres {
			q = tx.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var err error
		if w, err = getWebhook(q, albumID, id); err != nil {
			return err
		}
		if p.URL != nil {
			w.URL = *p.URL
		}
		if p.Name != nil {
			w.Name = *p.Name
		}
		if p.Secret != nil {
			if *p.Secret == "" {
				w.Secret = nil
			} else {
				w.Secret = p.Secret
			}
		}
		if p.Events != nil {
			w.Events = *p.Events
		}
		w.Events = (w.Events | p.Add) &^ p.Remove
		if p.Enabled != nil {
			if *p.Enabled && !w.Enabled {
				w.DisabledReason = nil
				if err := resetHealth(tx, w.ID); err != nil {
					return err
				}
			}
			w.Enabled = *p.Enabled
		}
		return tx.Model(&AlbumWebhook{}).Where("id = ?", w.ID).
			Select("url", "name", "secret", "events", "enabled", "disabled_reason").Updates(&w).Error
	})
	if err != nil {
		return WebhookView{}, fmt.Errorf("update webhook: %w", err)
	}
	last, err := s.lastTriggers(s.db.WithContext(ctx), w)
	if err != nil {
		return WebhookView{}, err
	}
	return WebhookView{AlbumWebhook: w, NumberOfTriggers: w.Triggers, LastTriggers: last}, nil
}

// DeleteWebhook deletes the album's webhook with its history; its pending deliveries stop.
func (s *Store) DeleteWebhook(ctx context.Context, albumID, id string) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND album_id = ?", id, albumID).Delete(&AlbumWebhook{})
		if res.Error != nil {
			return fmt.Errorf("delete webhook: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%q: %w", id, ErrWebhookNotFound)
		}
		if err := tx.Where("webhook_id = ?", id).Delete(&Delivery{}).Error; err != nil {
			return fmt.Errorf("delete deliveries: %w", err)
		}
		return nil
	})
}
