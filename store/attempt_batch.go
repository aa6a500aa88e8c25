package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/webhookd/webhookd/internal/batch"
)

// Batches of attempts: the inputs of attempts starting together are read in one statement, and
// the outcomes of attempts that finish while another batch commits
// are recorded together, in one transaction of a constant number of statements (plus their Next
// callbacks), so that a burst pays one commit per batch rather than one per attempt. A batch
// that fails is recorded again one outcome per transaction, so one outcome's error never fails
// its neighbours.

// recordBatches bounds the batches of outcomes committing at once: SQLite has one writer; a
// server database commits several while others are sent.
func recordBatches(d Dialect) int {
	if d == Postgres {
		return 4
	}
	return 1
}

// loadBatches bounds the batches of attempt inputs read at once.
func loadBatches(d Dialect) int {
	if d == Postgres {
		return 4
	}
	return 2
}

// newLoader returns the batcher of LoadAttempt.
func (s *Store) newLoader() *batch.Batcher[string, AttemptInput] {
	return batch.New(batch.Config{MaxConcurrent: loadBatches(s.dialect)},
		func(ctx context.Context, calls []*batch.Call[string, AttemptInput]) {
			ids := make([]string, len(calls))
			for i, c := range calls {
				ids[i] = c.In
			}
			inputs, err := s.loadAttempts(ctx, ids)
			for _, c := range calls {
				in, ok := inputs[c.In]
				switch {
				case err != nil:
					c.Err = err
				case !ok:
					c.Err = fmt.Errorf("delivery %q: %w", c.In, ErrNotFound)
				default:
					c.Out = in
				}
			}
		})
}

// loadAttempts reads the deliveries of ids, the number of their recorded attempts and their
// webhooks' state, in one statement, by delivery id (missing ids do not exist).
func (s *Store) loadAttempts(ctx context.Context, ids []string) (map[string]AttemptInput, error) {
	var rows []struct {
		Delivery
		Recorded         int
		HookEnabled      *bool
		FailingSince     *time.Time
		FailedDeliveries *int
		NotBefore        *time.Time
		PaceMS           *int64 `gorm:"column:pace_ms"`
	}
	err := s.db.WithContext(ctx).Raw(`SELECT d.*,
		(SELECT COUNT(*) FROM delivery_attempts a WHERE a.delivery_id = d.id) AS recorded,
		CASE WHEN d.family = ? THEN (SELECT w.enabled FROM album_webhooks w WHERE w.id = d.webhook_id)
			ELSE (SELECT w.enabled FROM facility_webhooks w WHERE w.id = d.webhook_id) END AS hook_enabled,
		h.failing_since, h.failed_deliveries, h.not_before, h.pace_ms
		FROM deliveries d LEFT JOIN webhook_health h ON h.webhook_id = d.webhook_id
		WHERE d.id IN ?`, FamilyKheops, ids).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	inputs := make(map[string]AttemptInput, len(rows))
	for _, r := range rows {
		in := AttemptInput{Delivery: r.Delivery, Recorded: r.Recorded, HookExists: r.HookEnabled != nil,
			Health: Health{FailingSince: r.FailingSince, NotBefore: r.NotBefore}}
		in.HookEnabled = in.HookExists && *r.HookEnabled
		if r.FailedDeliveries != nil {
			in.FailedDeliveries = *r.FailedDeliveries
		}
		if r.PaceMS != nil {
			in.PaceMS = *r.PaceMS
		}
		inputs[r.ID] = in
	}
	return inputs, nil
}

// newRecorder returns the batcher of RecordAttempt.
func (s *Store) newRecorder() *batch.Batcher[AttemptOutcome, bool] {
	return batch.New(batch.Config{MaxConcurrent: recordBatches(s.dialect)},
		func(ctx context.Context, calls []*batch.Call[AttemptOutcome, bool]) {
			outcomes := make([]AttemptOutcome, len(calls))
			for i, c := range calls {
				outcomes[i] = c.In
			}
			recorded, err := s.recordAttempts(ctx, outcomes)
			if err != nil && len(calls) > 1 {
				for _, c := range calls {
					var one []bool
					if one, c.Err = s.recordAttempts(ctx, []AttemptOutcome{c.In}); c.Err == nil {
						c.Out = one[0]
					}
				}
				return
			}
			for i, c := range calls {
				c.Err = err
				if err == nil {
					c.Out = recorded[i]
				}
			}
		})
}

// recordAttempts records outcomes in one transaction: one INSERT of the attempts whose
// delivery exists and that were not recorded before, one UPDATE of those deliveries, then the
// Next callbacks of the outcomes recorded, in order. It tells which outcomes were recorded.
// Two outcomes of one delivery are an error (recorded apart, the later commit wins).
func (s *Store) recordAttempts(ctx context.Context, outcomes []AttemptOutcome) ([]bool, error) {
	seen := make(map[string]bool, len(outcomes))
	for _, o := range outcomes {
		if seen[o.Attempt.DeliveryID] {
			return nil, fmt.Errorf("record attempts: delivery %q twice in a batch", o.Attempt.DeliveryID)
		}
		seen[o.Attempt.DeliveryID] = true
	}
	var recorded []bool
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		recorded = make([]bool, len(outcomes))
		inserted, err := s.insertAttempts(tx, outcomes)
		if err != nil {
			return err
		}
		var updates []AttemptOutcome
		for i, o := range outcomes {
			if inserted[attemptKey{o.Attempt.DeliveryID, o.Attempt.Attempt}] {
				recorded[i] = true
				updates = append(updates, o)
			}
		}
		if err := updateDeliveryStatuses(tx, updates); err != nil {
			return err
		}
		for i, o := range outcomes {
			if recorded[i] && o.Next != nil {
				if err := o.Next(tx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return recorded, nil
}

type attemptKey struct {
	delivery string
	attempt  int
}

// insertAttempts inserts the attempts of outcomes whose delivery exists, skipping those
// already recorded, in one statement, and returns the keys it inserted.
func (s *Store) insertAttempts(tx *gorm.DB, outcomes []AttemptOutcome) (map[attemptKey]bool, error) {
	if len(outcomes) == 0 {
		return nil, nil
	}
	// PostgreSQL types the parameters of a VALUES list as text; SQLite keeps what it is given.
	row := "(?, ?, ?, ?, ?, ?, ?)"
	if s.dialect == Postgres {
		row = "(?::text, ?::integer, ?::integer, ?::text, ?::bigint, ?::text, ?::timestamptz)"
	}
	var q strings.Builder
	q.WriteString("WITH v (delivery_id, attempt, status, error, duration_ms, response_body, created_at) AS (VALUES ")
	args := make([]any, 0, 7*len(outcomes))
	for i, o := range outcomes {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(row)
		a := o.Attempt
		if a.CreatedAt.IsZero() {
			a.CreatedAt = time.Now()
		}
		args = append(args, a.DeliveryID, a.Attempt, a.Status, a.Error, a.DurationMS, a.ResponseBody, a.CreatedAt.UTC())
	}
	q.WriteString(`) INSERT INTO delivery_attempts (delivery_id, attempt, status, error, duration_ms, response_body, created_at)
		SELECT v.delivery_id, v.attempt, v.status, v.error, v.duration_ms, v.response_body, v.created_at FROM v
		WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = v.delivery_id)
		ON CONFLICT (delivery_id, attempt) DO NOTHING RETURNING delivery_id, attempt`)
	var rows []struct {
		DeliveryID string
		Attempt    int
	}
	if err := tx.Raw(q.String(), args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("insert attempts: %w", err)
	}
	inserted := make(map[attemptKey]bool, len(rows))
	for _, r := range rows {
		inserted[attemptKey{r.DeliveryID, r.Attempt}] = true
	}
	return inserted, nil
}

// updateDeliveryStatuses sets the status of each outcome's delivery, and clears the resend
// mark of those that were resends, in one statement.
func updateDeliveryStatuses(tx *gorm.DB, outcomes []AttemptOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString("WITH v (id, status, resend) AS (VALUES ")
	args := make([]any, 0, 3*len(outcomes))
	for i, o := range outcomes {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?, ?, CAST(? AS INTEGER))")
		resend := 0
		if o.Resend {
			resend = 1
		}
		args = append(args, o.Attempt.DeliveryID, o.Status, resend)
	}
	q.WriteString(`) UPDATE deliveries SET status = v.status,
		resend = CASE WHEN v.resend = 1 THEN FALSE ELSE deliveries.resend END
		FROM v WHERE deliveries.id = v.id`)
	if err := tx.Exec(q.String(), args...).Error; err != nil {
		return fmt.Errorf("update deliveries: %w", err)
	}
	return nil
}
