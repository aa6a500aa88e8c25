package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
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
// with their queue jobs. An idempotency key seen before creates nothing. Events published at the
// same time share a transaction (see publish_batch.go): if ctx ends first, PublishEvent returns
// its error at once, and the event may still be committed with its batch.
func (s *Store) PublishEvent(ctx context.Context, in PublishInput) (PublishResult, error) {
	return s.publisher.Do(ctx, in)
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
