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

// recordLinger is how long a batch of outcomes waits for more before it is recorded on
// PostgreSQL: a worker's request is already answered, so waiting costs it nothing but the wait,
// and a steady trickle of outcomes is recorded in fewer statements. SQLite's single writer
// batches them by itself.
func recordLinger(d Dialect) time.Duration {
	if d == Postgres {
		return 3 * time.Millisecond
	}
	return 0
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

// newRecorder returns the batcher of RecordAttempt: a batch's outcomes are recorded in one
// transaction, or each in its own if that fails.
func (s *Store) newRecorder() *batch.Batcher[AttemptOutcome, bool] {
	return batch.New(batch.Config{MaxConcurrent: recordBatches(s.dialect), Linger: recordLinger(s.dialect)}, batch.AllOrEach(
		func(ctx context.Context, calls []*batch.Call[AttemptOutcome, bool]) ([]bool, error) {
			outcomes := make([]AttemptOutcome, len(calls))
			for i, c := range calls {
				outcomes[i] = c.In
			}
			return s.recordAttempts(ctx, outcomes)
		},
		func(ctx context.Context, c *batch.Call[AttemptOutcome, bool]) (bool, error) {
			recorded, err := s.recordAttempts(ctx, []AttemptOutcome{c.In})
			if err != nil {
				return false, err
			}
			return recorded[0], nil
		}))
}

// recordAttempts records outcomes together: the attempts whose delivery exists and that were
// not recorded before are inserted and their deliveries updated, then the Next callbacks of the
// outcomes recorded run, in order, in the same transaction. It tells which outcomes were
// recorded. On PostgreSQL the insert and the update are one statement, which needs no
// transaction of its own when no outcome has a Next (one round trip and one commit for the
// batch); on SQLite they are two. Two outcomes of one delivery are an error (recorded apart,
// the later commit wins).
func (s *Store) recordAttempts(ctx context.Context, outcomes []AttemptOutcome) ([]bool, error) {
	seen := make(map[string]bool, len(outcomes))
	next := false
	for _, o := range outcomes {
		if seen[o.Attempt.DeliveryID] {
			return nil, fmt.Errorf("record attempts: delivery %q twice in a batch", o.Attempt.DeliveryID)
		}
		seen[o.Attempt.DeliveryID] = true
		next = next || o.Next != nil || o.endsAlbumDelivery()
	}
	var recorded []bool
	run := func(tx *gorm.DB) error {
		inserted, err := s.writeAttempts(tx, outcomes)
		if err != nil {
			return err
		}
		recorded = make([]bool, len(outcomes))
		var ended []string // album webhooks whose last triggers changed
		for i, o := range outcomes {
			recorded[i] = inserted[attemptKey{o.Attempt.DeliveryID, o.Attempt.Attempt}]
			if recorded[i] && o.Next != nil {
				if err := o.Next(tx); err != nil {
					return err
				}
			}
			if recorded[i] && o.endsAlbumDelivery() {
				ended = append(ended, o.AlbumWebhookID)
			}
		}
		return refreshLastTriggers(tx, ended, false)
	}
	var err error
	if s.dialect == Postgres && !next {
		err = run(s.db.WithContext(ctx))
	} else {
		err = s.transaction(ctx, run)
	}
	if err != nil {
		return nil, err
	}
	return recorded, nil
}

// endsAlbumDelivery tells whether o ends a Kheops delivery (changing its webhook's last triggers).
func (o AttemptOutcome) endsAlbumDelivery() bool {
	return o.AlbumWebhookID != "" && o.Status != DeliveryPending
}

type attemptKey struct {
	delivery string
	attempt  int
}

// writeAttempts inserts the attempts of outcomes whose delivery exists, skipping those already
// recorded, and sets the status of their deliveries (clearing the resend mark of resends). It
// returns the keys of the attempts it inserted.
func (s *Store) writeAttempts(tx *gorm.DB, outcomes []AttemptOutcome) (map[attemptKey]bool, error) {
	// The delivery's existence is a scalar subquery, not EXISTS: EXISTS becomes a join, which the
	// planner may run as a scan of the whole table while its statistics still say it is small
	// (a new database filling up), for every batch; the subquery is one index lookup per row.
	const insert = `INSERT INTO delivery_attempts (delivery_id, attempt, status, error, duration_ms, response_body, created_at)
		SELECT v.delivery_id, v.attempt, v.status, v.error, v.duration_ms, v.response_body, v.created_at FROM v
		WHERE (SELECT TRUE FROM deliveries d WHERE d.id = v.delivery_id)
		ON CONFLICT (delivery_id, attempt) DO NOTHING RETURNING delivery_id, attempt`
	const set = `status = v.delivery_status, resend = CASE WHEN v.resend = 1 THEN FALSE ELSE deliveries.resend END`
	values, args := s.outcomeValues(outcomes)
	q := values + " " + insert
	if s.dialect == Postgres {
		q = values + ", ins AS (" + insert + "), upd AS (UPDATE deliveries SET " + set +
			" FROM ins JOIN v ON v.delivery_id = ins.delivery_id AND v.attempt = ins.attempt WHERE deliveries.id = ins.delivery_id)"
		var jobs []int64
		for _, o := range outcomes {
			if o.Job != 0 {
				jobs = append(jobs, o.Job)
			}
		}
		if len(jobs) > 0 {
			// The queue rows of attempts made by direct dispatch go with their recording.
			q += ", gone AS (DELETE FROM river_job WHERE id = ANY(CAST(? AS BIGINT[])))"
			args = append(args, pgArray(jobs))
		}
		q += " SELECT delivery_id, attempt FROM ins"
	}
	var rows []struct {
		DeliveryID string
		Attempt    int
	}
	if err := tx.Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("record attempts: %w", err)
	}
	inserted := make(map[attemptKey]bool, len(rows))
	for _, r := range rows {
		inserted[attemptKey{r.DeliveryID, r.Attempt}] = true
	}
	if s.dialect == Postgres || len(rows) == 0 {
		return inserted, nil
	}
	// SQLite has no INSERT in a WITH: a second statement updates the deliveries of the attempts
	// inserted.
	updates := make([]AttemptOutcome, 0, len(rows))
	for _, o := range outcomes {
		if inserted[attemptKey{o.Attempt.DeliveryID, o.Attempt.Attempt}] {
			updates = append(updates, o)
		}
	}
	values, args = s.outcomeValues(updates)
	if err := tx.Exec(values+" UPDATE deliveries SET "+set+" FROM v WHERE deliveries.id = v.delivery_id", args...).Error; err != nil {
		return nil, fmt.Errorf("update deliveries: %w", err)
	}
	return inserted, nil
}

// outcomeValues returns "WITH v (...) AS (VALUES ...)" holding outcomes, and its arguments.
func (s *Store) outcomeValues(outcomes []AttemptOutcome) (string, []any) {
	// PostgreSQL types the parameters of a VALUES list as text; SQLite keeps what it is given.
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
	if s.dialect == Postgres {
		row = "(?::text, ?::integer, ?::integer, ?::text, ?::bigint, ?::text, ?::timestamptz, ?::text, ?::integer)"
	}
	var q strings.Builder
	q.Grow(120 + len(outcomes)*(len(row)+1))
	q.WriteString("WITH v (delivery_id, attempt, status, error, duration_ms, response_body, created_at, delivery_status, resend) AS (VALUES ")
	args := make([]any, 0, 9*len(outcomes))
	for i, o := range outcomes {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(row)
		a := o.Attempt
		if a.CreatedAt.IsZero() {
			a.CreatedAt = time.Now()
		}
		resend := 0
		if o.Resend {
			resend = 1
		}
		args = append(args, a.DeliveryID, a.Attempt, a.Status, a.Error, a.DurationMS, a.ResponseBody, a.CreatedAt.UTC(), o.Status, resend)
	}
	q.WriteString(")")
	return q.String(), args
}
