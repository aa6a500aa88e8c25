package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/webhookd/webhookd/payload"
)

// Event kinds of the facility API.
const (
	EventKindFacility = "facility"
	EventKindUser     = "user"
)

// Event is a facility or user event published to webhookd.
type Event struct {
	ID             string `gorm:"primaryKey"`
	Kind           string
	EventType      string
	FacilityID     *string
	ClientID       *string
	Publisher      string
	IdempotencyKey *string
	Data           string
	Deliveries     int
	CreatedAt      time.Time
}

// PublishInput is an event to fan out.
type PublishInput struct {
	Kind       string // EventKindFacility or EventKindUser
	EventType  string
	FacilityID string // facility events
	ClientID   string // user events: the application whose user webhooks receive it
	Data       json.RawMessage
	// Publisher is who published it; an IdempotencyKey is unique per publisher.
	Publisher      string
	IdempotencyKey *string
}

// PublishResult tells what publishing created.
type PublishResult struct {
	EventID    string
	Deliveries int
	// Duplicate is true when the idempotency key was already used: nothing was created and
	// EventID and Deliveries describe the first event.
	Duplicate bool
}

// PublishEvent records an event and one delivery per matching webhook, in one transaction
// with their queue jobs. An idempotency key seen before creates nothing.
func (s *Store) PublishEvent(ctx context.Context, in PublishInput) (PublishResult, error) {
	if in.IdempotencyKey != nil {
		if ev, ok, err := s.eventByKey(ctx, in.Publisher, *in.IdempotencyKey); err != nil || ok {
			return PublishResult{EventID: ev.ID, Deliveries: ev.Deliveries, Duplicate: ok}, err
		}
	}
	ev := Event{ID: uuid.NewString(), Kind: in.Kind, EventType: in.EventType, Publisher: in.Publisher,
		IdempotencyKey: in.IdempotencyKey, Data: string(in.Data), CreatedAt: time.Now().UTC()}
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		var (
			hooks []publishTarget
			err   error
		)
		if in.Kind == EventKindFacility {
			ev.FacilityID = &in.FacilityID
			hooks, err = publishTargets(tx, facilityMatchFrom, in.FacilityID, FamilyFacility, in.EventType, FacilityEventAll)
		} else {
			ev.ClientID = &in.ClientID
			hooks, err = publishTargets(tx, userMatchFrom, in.ClientID, FamilyUser, in.EventType, FacilityEventAll)
		}
		if err != nil {
			return err
		}
		ev.Deliveries = len(hooks)
		if err := tx.Create(&ev).Error; err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		body, err := payload.Marshal(payload.Facility{Data: in.Data, EventType: in.EventType})
		if err != nil {
			return err
		}
		rows := make([]Delivery, 0, len(hooks))
		for _, h := range hooks {
			secrets, _ := json.Marshal(h.Secrets)
			d := Delivery{ID: RandomString(DeliveryIDLength), Family: in.Kind, WebhookID: h.ID, Event: in.EventType,
				URL: h.URL, Secrets: string(secrets), Payload: body, ClientID: &h.ClientID, EventID: &ev.ID,
				Status: DeliveryPending, MaxAttempts: s.cfg.FacilityMaxAttempts, CreatedAt: ev.CreatedAt}
			if in.Kind == EventKindFacility {
				d.FacilityID = &in.FacilityID
			} else if fid := facilityIDOf(in.Data); fid != "" {
				d.FacilityID = &fid
			}
			rows = append(rows, d)
		}
		return s.insertDeliveries(ctx, tx, rows)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) && in.IdempotencyKey != nil {
		// The same key published concurrently: the other one won.
		first, ok, err := s.eventByKey(ctx, in.Publisher, *in.IdempotencyKey)
		if err == nil && ok {
			return PublishResult{EventID: first.ID, Deliveries: first.Deliveries, Duplicate: true}, nil
		}
	}
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish event: %w", err)
	}
	return PublishResult{EventID: ev.ID, Deliveries: ev.Deliveries}, nil
}

// publishTarget is what a delivery needs of a matching webhook.
type publishTarget struct {
	ID, URL, ClientID string
	Secrets           []string
}

// publishTargets reads, oldest first, the webhooks "SELECT w.id <from>" names (share-locked on
// PostgreSQL, like MatchingFacilityWebhooks) and their secrets, in two statements scanned by
// hand: publishing reads only these columns, and GORM's reflection was a sixth of its CPU.
func publishTargets(tx *gorm.DB, from string, args ...any) ([]publishTarget, error) {
	q := "SELECT w.id, w.url, w.client_id " + from + " ORDER BY w.created_at, w.id"
	if tx.Dialector.Name() == string(Postgres) {
		q += " FOR SHARE OF w"
	}
	rows, err := tx.Raw(q, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("match webhooks: %w", err)
	}
	var hooks []publishTarget
	for rows.Next() {
		var h publishTarget
		if err := rows.Scan(&h.ID, &h.URL, &h.ClientID); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("match webhooks: %w", err)
		}
		h.Secrets = []string{}
		hooks = append(hooks, h)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("match webhooks: %w", err)
	}
	if len(hooks) == 0 {
		return hooks, nil
	}
	index := make(map[string]int, len(hooks))
	for i, h := range hooks {
		index[h.ID] = i
	}
	rows, err = tx.Raw("SELECT webhook_id, secret FROM facility_webhook_secrets WHERE webhook_id IN (SELECT w.id "+from+
		") ORDER BY webhook_id, position", args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("read webhook secrets: %w", err)
	}
	for rows.Next() {
		var id, secret string
		if err := rows.Scan(&id, &secret); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read webhook secrets: %w", err)
		}
		if i, ok := index[id]; ok {
			hooks[i].Secrets = append(hooks[i].Secrets, secret)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read webhook secrets: %w", err)
	}
	return hooks, nil
}

func (s *Store) eventByKey(ctx context.Context, publisher, key string) (Event, bool, error) {
	var evs []Event
	if err := s.db.WithContext(ctx).Where("publisher = ? AND idempotency_key = ?", publisher, key).Limit(1).
		Find(&evs).Error; err != nil {
		return Event{}, false, fmt.Errorf("read event: %w", err)
	}
	if len(evs) == 0 {
		return Event{}, false, nil
	}
	return evs[0], true, nil
}

// facilityIDOf reads data.facilityId, which user events carry for the logs' facility filter.
func facilityIDOf(data json.RawMessage) string {
	var v struct {
		FacilityID string `json:"facilityId"`
	}
	_ = json.Unmarshal(data, &v)
	return v.FacilityID
}
