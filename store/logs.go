package store

import (
	"context"
	"fmt"
	"time"
)

// LogFilter selects facility and user deliveries for GET /logs.
type LogFilter struct {
	FacilityIDs []string
	EventType   *string
	Start, End  *time.Time
	Limit       int
	Offset      int
	Ascending   bool
}

// LogEntry is a delivery with its attempts, first attempt first.
type LogEntry struct {
	Delivery
	Attempts []DeliveryAttempt
}

// ListLogs returns a page of the application's facility and user deliveries with their
// attempts: two statements whatever the page size.
func (s *Store) ListLogs(ctx context.Context, clientID string, f LogFilter) ([]LogEntry, error) {
	db := s.db.WithContext(ctx)
	q := db.Where("client_id = ? AND family IN ?", clientID, []string{FamilyFacility, FamilyUser})
	if len(f.FacilityIDs) > 0 {
		q = q.Where("facility_id IN ?", f.FacilityIDs)
	}
	if f.EventType != nil {
		q = q.Where("event = ?", *f.EventType)
	}
	if f.Start != nil {
		q = q.Where("created_at >= ?", f.Start.UTC())
	}
	if f.End != nil {
		q = q.Where("created_at <= ?", f.End.UTC())
	}
	order := "created_at DESC, id DESC"
	if f.Ascending {
		order = "created_at ASC, id ASC"
	}
	var ds []Delivery
	if err := q.Order(order).Limit(f.Limit).Offset(f.Offset).Find(&ds).Error; err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	out := make([]LogEntry, len(ds))
	if len(ds) == 0 {
		return out, nil
	}
	ids := make([]string, len(ds))
	index := make(map[string]int, len(ds))
	for i, d := range ds {
		out[i].Delivery = d
		ids[i] = d.ID
		index[d.ID] = i
	}
	var attempts []DeliveryAttempt
	if err := db.Where("delivery_id IN ?", ids).Order("attempt").Find(&attempts).Error; err != nil {
		return nil, fmt.Errorf("list log attempts: %w", err)
	}
	for _, a := range attempts {
		e := &out[index[a.DeliveryID]]
		e.Attempts = append(e.Attempts, a)
	}
	return out, nil
}

// PurgeLogs deletes the facility and user deliveries created before `before`, with their
// attempts, and reports how many it deleted.
func (s *Store) PurgeLogs(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("family IN ? AND created_at < ?", []string{FamilyFacility, FamilyUser}, before.UTC()).
		Delete(&Delivery{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge logs: %w", res.Error)
	}
	return res.RowsAffected, nil
}
