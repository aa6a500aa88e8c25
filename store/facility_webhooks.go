package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// FacilityEventAll is the event value that subscribes a facility or user webhook to every
// event of its kind.
const FacilityEventAll = "all"

// MaxFacilityWebhookSecrets is how many secrets a facility or user webhook may hold: two allow
// a rotation without downtime.
const MaxFacilityWebhookSecrets = 2

// FacilityWebhook is a webhook of the facility API. Its Kind is FamilyFacility (shift events of
// its Facilities) or FamilyUser (user events of its application). It belongs to the application
// ClientID, the only one that sees it.
//
// The lists are never nil once read or written by the store, and keep the caller's order.
type FacilityWebhook struct {
	ID       string `gorm:"primaryKey"` // UUID v4, lower case
	Kind     string
	ClientID string
	URL      string `gorm:"column:url"`
	// Enabled webhooks receive events; new ones are enabled.
	Enabled bool
	// DisabledReason says why the service disabled it; nil when it did not.
	DisabledReason *string
	CreatedAt      time.Time
	// Events are the event types it listens to; FacilityEventAll means every event of its kind.
	Events []string `gorm:"-"`
	// Facilities are the facilities whose events it receives (kind facility; empty for user).
	Facilities []string `gorm:"-"`
	// Secrets sign its deliveries, at most MaxFacilityWebhookSecrets.
	Secrets []string `gorm:"-"`
}

// TableName names the table of FacilityWebhook.
func (FacilityWebhook) TableName() string { return "facility_webhooks" }

// FacilityWebhookPatch is an edit of a facility or user webhook: a nil field is kept, any other
// replaces the stored value (an empty list included).
type FacilityWebhookPatch struct {
	// Enabled true also clears the reason the service disabled it, and its failing streak.
	Enabled    *bool
	URL        *string
	Events     *[]string
	Facilities *[]string
	Secrets    *[]string
}

// The rows of the webhooks' lists; position keeps the caller's order.
type facilityWebhookEvent struct {
	WebhookID string `gorm:"primaryKey"`
	Position  int    `gorm:"primaryKey;autoIncrement:false"`
	Event     string
}

type facilityWebhookFacility struct {
	WebhookID  string `gorm:"primaryKey"`
	Position   int    `gorm:"primaryKey;autoIncrement:false"`
	FacilityID string
}

type facilityWebhookSecret struct {
	WebhookID string `gorm:"primaryKey"`
	Position  int    `gorm:"primaryKey;autoIncrement:false"`
	Secret    string
}

func (facilityWebhookEvent) TableName() string    { return "facility_webhook_events" }
func (facilityWebhookFacility) TableName() string { return "facility_webhook_facilities" }
func (facilityWebhookSecret) TableName() string   { return "facility_webhook_secrets" }

// CreateFacilityWebhook stores a new webhook of w.Kind for w.ClientID with w's URL and lists,
// and returns it with its id (a UUID v4) and creation time. Duplicate events and facilities
// are dropped (the first is kept). Nothing is stored when any statement fails.
func (s *Store) CreateFacilityWebhook(ctx context.Context, w FacilityWebhook) (FacilityWebhook, error) {
	if err := checkFacilityWebhook(w.Kind, w.Facilities, w.Secrets); err != nil {
		return FacilityWebhook{}, fmt.Errorf("create facility webhook: %w", err)
	}
	w.ID = uuid.NewString()
	w.CreatedAt = time.Now().UTC()
	w.Enabled, w.DisabledReason = true, nil
	w.Events = withoutDuplicates(w.Events)
	w.Facilities = withoutDuplicates(w.Facilities)
	w.Secrets = append([]string{}, w.Secrets...)
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&w).Error; err != nil {
			return fmt.Errorf("insert webhook: %w", err)
		}
		return replaceFacilityWebhookLists(tx, w.ID, false, &w.Events, &w.Facilities, &w.Secrets)
	})
	if err != nil {
		return FacilityWebhook{}, fmt.Errorf("create facility webhook: %w", err)
	}
	return w, nil
}

// ListFacilityWebhooks returns the webhooks of kind (FamilyFacility or FamilyUser) that belong
// to clientID, newest first. Two statements, in one read-only snapshot, whatever their number.
func (s *Store) ListFacilityWebhooks(ctx context.Context, clientID, kind string) ([]FacilityWebhook, error) {
	hooks := []FacilityWebhook{}
	err := s.facilityRead(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("client_id = ? AND kind = ?", clientID, kind).Order("created_at DESC, id DESC").
			Find(&hooks).Error; err != nil {
			return fmt.Errorf("read webhooks: %w", err)
		}
		return loadFacilityWebhookLists(tx, hooks,
			"SELECT id FROM facility_webhooks WHERE client_id = ? AND kind = ?", clientID, kind)
	})
	if err != nil {
		return nil, fmt.Errorf("list facility webhooks: %w", err)
	}
	return hooks, nil
}

// GetFacilityWebhook returns clientID's webhook of kind with the given id; ErrNotFound when
// there is none (another application's webhook is not told apart from a missing one).
func (s *Store) GetFacilityWebhook(ctx context.Context, clientID, kind, id string) (FacilityWebhook, error) {
	var w FacilityWebhook
	err := s.facilityRead(ctx, func(tx *gorm.DB) error {
		var err error
		w, err = ownFacilityWebhook(tx, clientID, kind, id)
		return err
	})
	if err != nil {
		return FacilityWebhook{}, fmt.Errorf("get facility webhook: %w", err)
	}
	return w, nil
}

// UpdateFacilityWebhook applies p to clientID's webhook of kind with the given id, whole or not
// at all, and returns the result; ErrNotFound when there is no such webhook. An empty patch
// changes nothing. Duplicate events and facilities are dropped (the first is kept).
func (s *Store) UpdateFacilityWebhook(ctx context.Context, clientID, kind, id string, p FacilityWebhookPatch) (FacilityWebhook, error) {
	var w FacilityWebhook
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		q := tx
		if s.dialect == Postgres {
			// Serialises edits of one webhook, and with MatchingFacilityWebhooks' share lock
			// keeps a delivery from seeing half of an edit.
			q = tx.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		err := q.Where("id = ? AND client_id = ? AND kind = ?", id, clientID, kind).Take(&w).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("facility webhook %q: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read webhook: %w", err)
		}
		var facilities, secrets []string
		if p.Facilities != nil {
			facilities = *p.Facilities
		}
		if p.Secrets != nil {
			secrets = *p.Secrets
		}
		if err := checkFacilityWebhook(kind, facilities, secrets); err != nil {
			return err
		}
		if p.URL != nil && *p.URL != w.URL {
			if err := tx.Model(&FacilityWebhook{}).Where("id = ?", id).Update("url", *p.URL).Error; err != nil {
				return fmt.Errorf("update url: %w", err)
			}
			w.URL = *p.URL
		}
		if p.Enabled != nil && *p.Enabled != w.Enabled {
			if err := setFacilityEnabled(tx, &w, *p.Enabled); err != nil {
				return err
			}
		}
		if err := replaceFacilityWebhookLists(tx, id, true, dedupedList(p.Events), dedupedList(p.Facilities), p.Secrets); err != nil {
			return err
		}
		hooks := []FacilityWebhook{w}
		if err := loadFacilityWebhookLists(tx, hooks, "?", id); err != nil {
			return err
		}
		w = hooks[0]
		return nil
	})
	if err != nil {
		return FacilityWebhook{}, fmt.Errorf("update facility webhook: %w", err)
	}
	return w, nil
}

// DeleteFacilityWebhook deletes clientID's webhook of kind with the given id and its lists;
// ErrNotFound when there is no such webhook. Its deliveries are left to the delivery log.
func (s *Store) DeleteFacilityWebhook(ctx context.Context, clientID, kind, id string) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND client_id = ? AND kind = ?", id, clientID, kind).Delete(&FacilityWebhook{})
		if res.Error != nil {
			return fmt.Errorf("delete facility webhook: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("delete facility webhook %q: %w", id, ErrNotFound)
		}
		// Its deliveries stay in the logs; those still being retried stop.
		if err := tx.Model(&Delivery{}).Where("webhook_id = ? AND status = ?", id, DeliveryPending).
			Update("status", DeliveryFailure).Error; err != nil {
			return fmt.Errorf("abandon pending deliveries: %w", err)
		}
		return nil
	})
}

// MatchingFacilityWebhooks returns, oldest first, the webhooks of kind facility that listen to
// eventType (or to FacilityEventAll) for facilityID, with their lists: one indexed query for
// the webhooks and one for their lists. Call it in the transaction that records their
// deliveries; on PostgreSQL it share-locks the webhooks, so that a concurrent edit or deletion
// is seen whole or not at all.
func MatchingFacilityWebhooks(tx *gorm.DB, facilityID, eventType string) ([]FacilityWebhook, error) {
	hooks, err := matchingFacilityWebhooks(tx, facilityMatchFrom, facilityID, FamilyFacility, eventType, FacilityEventAll)
	if err != nil {
		return nil, fmt.Errorf("match facility webhooks: %w", err)
	}
	return hooks, nil
}

// MatchingUserWebhooks returns, oldest first, clientID's webhooks of kind user that listen to
// eventType (or to FacilityEventAll), with their lists, in two statements. Like
// MatchingFacilityWebhooks, call it in the transaction that records their deliveries.
func MatchingUserWebhooks(tx *gorm.DB, clientID, eventType string) ([]FacilityWebhook, error) {
	hooks, err := matchingFacilityWebhooks(tx, userMatchFrom, clientID, FamilyUser, eventType, FacilityEventAll)
	if err != nil {
		return nil, fmt.Errorf("match user webhooks: %w", err)
	}
	return hooks, nil
}

// facilityMatchFrom names (w) the enabled webhooks of kind facility listening to an event of a
// facility; its arguments: facility id, kind, event type, FacilityEventAll.
const facilityMatchFrom = `FROM facility_webhook_facilities f
		JOIN facility_webhooks w ON w.id = f.webhook_id
		WHERE f.facility_id = ? AND w.kind = ? AND w.enabled AND EXISTS (
			SELECT 1 FROM facility_webhook_events e WHERE e.event IN (?, ?) AND e.webhook_id = w.id)`

// userMatchFrom names (w) the enabled webhooks of kind user of a client listening to an event;
// its arguments: client id, kind, event type, FacilityEventAll.
const userMatchFrom = `FROM facility_webhooks w
		WHERE w.client_id = ? AND w.kind = ? AND w.enabled AND EXISTS (
			SELECT 1 FROM facility_webhook_events e WHERE e.event IN (?, ?) AND e.webhook_id = w.id)`

// matchingFacilityWebhooks runs "SELECT w.* <from>" (from names the webhooks w) and loads the
// lists of what it found.
func matchingFacilityWebhooks(tx *gorm.DB, from string, args ...any) ([]FacilityWebhook, error) {
	q := "SELECT w.* " + from + " ORDER BY w.created_at, w.id"
	if tx.Dialector.Name() == string(Postgres) {
		q += " FOR SHARE OF w"
	}
	hooks := []FacilityWebhook{}
	if err := tx.Raw(q, args...).Scan(&hooks).Error; err != nil {
		return nil, fmt.Errorf("read webhooks: %w", err)
	}
	if err := loadFacilityWebhookLists(tx, hooks, "SELECT w.id "+from, args...); err != nil {
		return nil, err
	}
	return hooks, nil
}

// ownFacilityWebhook reads clientID's webhook of kind with the given id, with its lists.
func ownFacilityWebhook(tx *gorm.DB, clientID, kind, id string) (FacilityWebhook, error) {
	var w FacilityWebhook
	err := tx.Where("id = ? AND client_id = ? AND kind = ?", id, clientID, kind).Take(&w).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return w, fmt.Errorf("facility webhook %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return w, fmt.Errorf("read webhook: %w", err)
	}
	hooks := []FacilityWebhook{w}
	if err := loadFacilityWebhookLists(tx, hooks, "?", id); err != nil {
		return w, err
	}
	return hooks[0], nil
}

// loadFacilityWebhookLists fills the lists of hooks in one statement. idsSQL (with args) selects
// the ids of hooks, or a superset of them: it is a subquery, so that no list of ids is sent.
func loadFacilityWebhookLists(db *gorm.DB, hooks []FacilityWebhook, idsSQL string, args ...any) error {
	if len(hooks) == 0 {
		return nil
	}
	index := make(map[string]*FacilityWebhook, len(hooks))
	for i := range hooks {
		h := &hooks[i]
		h.Events, h.Facilities, h.Secrets = []string{}, []string{}, []string{}
		index[h.ID] = h
	}
	q := fmt.Sprintf(`SELECT webhook_id, 1 AS list, position, event AS value FROM facility_webhook_events WHERE webhook_id IN (%[1]s)
		UNION ALL SELECT webhook_id, 2, position, facility_id FROM facility_webhook_facilities WHERE webhook_id IN (%[1]s)
		UNION ALL SELECT webhook_id, 3, position, secret FROM facility_webhook_secrets WHERE webhook_id IN (%[1]s)
		ORDER BY webhook_id, list, position`, idsSQL)
	all := make([]any, 0, 3*len(args))
	for range 3 {
		all = append(all, args...)
	}
	var rows []struct {
		WebhookID string
		List      int
		Position  int
		Value     string
	}
	if err := db.Raw(q, all...).Scan(&rows).Error; err != nil {
		return fmt.Errorf("read webhook lists: %w", err)
	}
	for _, r := range rows {
		h := index[r.WebhookID]
		if h == nil {
			continue
		}
		switch r.List {
		case 1:
			h.Events = append(h.Events, r.Value)
		case 2:
			h.Facilities = append(h.Facilities, r.Value)
		case 3:
			h.Secrets = append(h.Secrets, r.Value)
		}
	}
	return nil
}

// replaceFacilityWebhookLists writes the lists that are not nil; existing says whether rows
// may exist (an update) and must be deleted first. At most two statements per list.
func replaceFacilityWebhookLists(tx *gorm.DB, id string, existing bool, events, facilities, secrets *[]string) error {
	if events != nil {
		rows := make([]facilityWebhookEvent, len(*events))
		for i, e := range *events {
			rows[i] = facilityWebhookEvent{WebhookID: id, Position: i, Event: e}
		}
		if err := replaceRows(tx, id, existing, rows); err != nil {
			return fmt.Errorf("write events: %w", err)
		}
	}
	if facilities != nil {
		rows := make([]facilityWebhookFacility, len(*facilities))
		for i, f := range *facilities {
			rows[i] = facilityWebhookFacility{WebhookID: id, Position: i, FacilityID: f}
		}
		if err := replaceRows(tx, id, existing, rows); err != nil {
			return fmt.Errorf("write facilities: %w", err)
		}
	}
	if secrets != nil {
		rows := make([]facilityWebhookSecret, len(*secrets))
		for i, s := range *secrets {
			rows[i] = facilityWebhookSecret{WebhookID: id, Position: i, Secret: s}
		}
		if err := replaceRows(tx, id, existing, rows); err != nil {
			return fmt.Errorf("write secrets: %w", err)
		}
	}
	return nil
}

// replaceRows replaces the rows of one list of webhook id by rows.
func replaceRows[T any](tx *gorm.DB, id string, existing bool, rows []T) error {
	if existing {
		var zero T
		if err := tx.Where("webhook_id = ?", id).Delete(&zero).Error; err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.CreateInBatches(rows, 1000).Error
}

// checkFacilityWebhook rejects what the API never sends: an unknown kind, facilities on a user
// webhook, too many secrets.
func checkFacilityWebhook(kind string, facilities, secrets []string) error {
	switch {
	case kind != FamilyFacility && kind != FamilyUser:
		return fmt.Errorf("unknown webhook kind %q", kind)
	case kind == FamilyUser && len(facilities) > 0:
		return errors.New("a user webhook has no facilities")
	case len(secrets) > MaxFacilityWebhookSecrets:
		return fmt.Errorf("%d secrets: at most %d", len(secrets), MaxFacilityWebhookSecrets)
	}
	return nil
}

// facilityRead runs fn in a read-only transaction: its statements see one snapshot (on
// PostgreSQL under REPEATABLE READ; on SQLite a deferred transaction, which does not take the
// write lock).
func (s *Store) facilityRead(ctx context.Context, fn func(tx *gorm.DB) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return s.db.WithContext(ctx).Transaction(fn, opts)
}

// withoutDuplicates returns list without its repeated values (the first is kept), never nil.
func withoutDuplicates(list []string) []string {
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// dedupedList is withoutDuplicates for an optional list.
func dedupedList(list *[]string) *[]string {
	if list == nil {
		return nil
	}
	out := withoutDuplicates(*list)
	return &out
}
