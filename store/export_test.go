package store

import (
	"context"

	"gorm.io/gorm"
)

// MigrateTo applies the migrations up to version, for tests that upgrade an older schema.
func (s *Store) MigrateTo(ctx context.Context, version int) error { return s.migrateTo(ctx, version) }

// PendingRecords is how many RecordAttempt calls wait for a batch.
func PendingRecords(s *Store) int { return s.recorder.Pending() }

// RecordBatches is how many batches of attempts commit at once.
func RecordBatches(s *Store) int { return recordBatches(s.dialect) }

// PendingLoads is how many LoadAttempt calls wait for a batch.
func PendingLoads(s *Store) int { return s.loader.Pending() }

// LoadBatches is how many batches of attempt inputs are read at once.
func LoadBatches(s *Store) int { return loadBatches(s.dialect) }

// PublishBatches is how many batches of PublishEvent calls run at once.
func PublishBatches(s *Store) int { return publishBatches(s.dialect) }

// PublishPending is how many PublishEvent calls wait for a batch.
func PublishPending(s *Store) int { return s.publisher.Pending() }

// RefreshLastTriggers recomputes the last triggers of the album webhooks ids, in tx.
func RefreshLastTriggers(tx *gorm.DB, ids ...string) error {
	return refreshLastTriggers(tx, ids, false)
}
