package store

import (
	"context"
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

// ListWebhooks returns a page of the album's webhooks, most recent first, with the total count.
// It runs three statements whatever the page size: count, page, and their deliveries' summary.
func (s *Store) ListWebhooks(ctx context.Context, albumID string, url *string, page Page) ([]WebhookView, int64, error) {
	db := s.db.WithContext(ctx)
	q := db.Model(&AlbumWebhook{}).Where("album_id = ?", albumID)
	if url != nil {
		q = q.Where("url = ?", *url)
	}
	var total int64
	if err := q.Session(&gorm.Session{}).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count webhooks: %w", err)
	}
	var hooks []AlbumWebhook
	q = q.Order("created_at DESC, id DESC").Offset(page.Offset)
	if page.Limit >= 0 {
		q = q.Limit(page.Limit)
	}
	if err := q.Find(&hooks).Error; err != nil {
		return nil, 0, fmt.Errorf("list webhooks: %w", err)
	}
	views, err := s.withTriggerSummaries(db, hooks)
	return views, total, err
}

// withTriggerSummaries adds the last 5 triggers to hooks, in one statement that reads about 5
// deliveries per webhook through the (webhook_id, created_at, id) index, however long their
// histories.
func (s *Store) withTriggerSummaries(db *gorm.DB, hooks []AlbumWebhook) ([]WebhookView, error) {
	views := make([]WebhookView, len(hooks))
	if len(hooks) == 0 {
		return views, nil
	}
	ids := make([]string, 0, len(hooks))
	index := make(map[string]int, len(hooks))
	for i, h := range hooks {
		views[i] = WebhookView{AlbumWebhook: h, NumberOfTriggers: h.Triggers}
		if h.Triggers > 0 {
			ids = append(ids, h.ID)
			index[h.ID] = i
		}
	}
	if len(ids) == 0 {
		return views, nil
	}
	// Up to 500 rows of three strings: scanned by hand (GORM's reflection took a third of the
	// list's CPU time).
	rows, err := db.Raw(s.lastTriggersSQL(), ids).Rows()
	if err != nil {
		return nil, fmt.Errorf("read last triggers: %w", err)
	}
	defer rows.Close()
	var id, webhookID, status string
	for rows.Next() {
		if err := rows.Scan(&id, &webhookID, &status); err != nil {
			return nil, fmt.Errorf("read last triggers: %w", err)
		}
		v := &views[index[webhookID]]
		if len(v.LastTriggers) < 5 { // deliveries created at the same instant as the 5th may follow
			v.LastTriggers = append(v.LastTriggers, TriggerSummary{ID: id, Success: status == DeliverySuccess})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read last triggers: %w", err)
	}
	return views, nil
}

// lastTriggersSQL selects the 5 newest deliveries of each webhook of a list of ids, newest
// first. PostgreSQL runs a LATERAL subquery per webhook. SQLite has no LATERAL: the query bounds
// each webhook's deliveries by the created_at of its 5th newest one (computed once per webhook;
// OFFSET 0 keeps the planner from inlining it into the join), which SQLite's nested loops read
// through the index; deliveries created at the same instant as the 5th may come too, and the
// caller keeps 5. (PostgreSQL cannot estimate that bound and would scan every delivery.)
func (s *Store) lastTriggersSQL() string {
	if s.dialect == Postgres {
		return `SELECT d.id, d.webhook_id, d.status FROM album_webhooks w
			CROSS JOIN LATERAL (SELECT id, webhook_id, status, created_at FROM deliveries
				WHERE webhook_id = w.id ORDER BY created_at DESC, id DESC LIMIT 5) d
			WHERE w.id IN ?
			ORDER BY d.webhook_id, d.created_at DESC, d.id DESC`
	}
	return `SELECT d.id, d.webhook_id, d.status FROM (
			SELECT w.id AS webhook_id, COALESCE(
				(SELECT d5.created_at FROM deliveries d5 WHERE d5.webhook_id = w.id
					ORDER BY d5.created_at DESC, d5.id DESC LIMIT 1 OFFSET 4),
				(SELECT MIN(d0.created_at) FROM deliveries d0 WHERE d0.webhook_id = w.id)) AS bound
			FROM album_webhooks w WHERE w.id IN ? LIMIT -1 OFFSET 0) b
		JOIN deliveries d ON d.webhook_id = b.webhook_id AND d.created_at >= b.bound
		ORDER BY d.webhook_id, d.created_at DESC, d.id DESC`
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
	views, err := s.withTriggerSummaries(s.db.WithContext(ctx), []AlbumWebhook{w})
	if err != nil {
		return WebhookView{}, err
	}
	return views[0], nil
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
