package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/webhookd/webhookd/payload"
)

// deliveryRefs are what a Kheops delivery concerns, kept for the trigger history.
type deliveryRefs struct {
	UserSub    *string
	StudyUID   *string
	SeriesUIDs []string
}

// kheopsBody starts the body of a Kheops request.
func (s *Store) kheopsBody(albumID string, source payload.KheopsUser, manual bool) payload.Kheops {
	return payload.Kheops{
		Host:            s.cfg.PublicURL,
		AlbumID:         albumID,
		EventTime:       payload.EventTime(time.Now()),
		Source:          source,
		IsManualTrigger: manual,
	}
}

// createKheopsDeliveries records one delivery of body per webhook and enqueues them, in tx.
func (s *Store) createKheopsDeliveries(ctx context.Context, tx *gorm.DB, hooks []AlbumWebhook, event KheopsEvent, body payload.Kheops, refs deliveryRefs) error {
	if len(hooks) == 0 {
		return nil
	}
	text, err := payload.Marshal(body)
	if err != nil {
		return err
	}
	var series *string
	if len(refs.SeriesUIDs) > 0 {
		b, _ := json.Marshal(refs.SeriesUIDs)
		str := string(b)
		series = &str
	}
	now := time.Now().UTC()
	rows := make([]Delivery, 0, len(hooks))
	for _, h := range hooks {
		secrets := "[]"
		if h.Secret != nil {
			b, _ := json.Marshal([]string{*h.Secret})
			secrets = string(b)
		}
		rows = append(rows, Delivery{
			ID: RandomString(DeliveryIDLength), Family: FamilyKheops, WebhookID: h.ID, Event: string(event),
			IsManual: body.IsManualTrigger, URL: h.URL, Secrets: secrets, Payload: text,
			UserSub: refs.UserSub, StudyUID: refs.StudyUID, SeriesUIDs: series,
			Status: DeliveryPending, MaxAttempts: s.cfg.KheopsMaxAttempts, CreatedAt: now,
		})
	}
	if err := s.insertDeliveries(ctx, tx, rows, nil); err != nil {
		return err
	}
	ids := make([]string, len(hooks))
	for i, h := range hooks {
		ids[i] = h.ID
	}
	return refreshLastTriggers(tx, ids, true)
}

// insertDeliveries writes deliveries and hands them to the engine in the same transaction: refs,
// one per row (for their contexts), or when nil refs made from rows.
func (s *Store) insertDeliveries(ctx context.Context, tx *gorm.DB, rows []Delivery, refs []DeliveryRef) error {
	if len(rows) == 0 {
		return nil
	}
	for start := 0; start < len(rows); start += deliveriesPerInsert {
		if err := insertDeliveryRows(tx, rows[start:min(start+deliveriesPerInsert, len(rows))]); err != nil {
			return err
		}
	}
	return s.enqueueDeliveries(ctx, tx, rows, refs)
}

// enqueueDeliveries hands rows, already inserted in tx, to the engine in the same transaction:
// refs, one per row (for their contexts), or when nil refs made from rows.
func (s *Store) enqueueDeliveries(ctx context.Context, tx *gorm.DB, rows []Delivery, refs []DeliveryRef) error {
	if len(rows) == 0 {
		return nil
	}
	if refs == nil {
		refs = make([]DeliveryRef, len(rows))
		for i, r := range rows {
			refs[i] = DeliveryRef{ID: r.ID, WebhookID: r.WebhookID}
		}
	}
	for i := range refs {
		refs[i].Row = &rows[i]
	}
	sqlTx, err := SQLTx(tx)
	if err != nil {
		return err
	}
	// The engine may ask to be told when the transaction ends (OnCommit).
	if note, ok := tx.Statement.Context.Value(txNoteKey{}).(*txNote); ok {
		ctx = context.WithValue(ctx, txNoteKey{}, note)
	}
	if err := s.enq.EnqueueDeliveries(ctx, sqlTx, refs); err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	noteEnqueued(tx, rows)
	return nil
}

// deliveryColumns are the columns insertDeliveryRows writes, in the order of its arguments.
const deliveryColumns = "id, family, webhook_id, event, is_manual, url, secrets, payload, user_sub, study_uid, " +
	"series_uids, facility_id, client_id, event_id, status, max_attempts, resend, created_at"

// deliveriesPerInsert bounds one INSERT's rows: 18 arguments each stay under SQLite's and
// PostgreSQL's limits on a statement's parameters (32,766 and 65,535).
const deliveriesPerInsert = 1000

// insertDeliveryRows inserts rows in one multi-row INSERT built by hand: GORM's Create
// reflected over every row and was a quarter of the CPU of publishing an event.
func insertDeliveryRows(tx *gorm.DB, rows []Delivery) error {
	return insertRows(tx, "deliveries", deliveryColumns, 18, len(rows), func(args []any, i int) []any {
		r := rows[i]
		return append(args, r.ID, r.Family, r.WebhookID, r.Event, r.IsManual, r.URL, r.Secrets, r.Payload, r.UserSub,
			r.StudyUID, r.SeriesUIDs, r.FacilityID, r.ClientID, r.EventID, r.Status, r.MaxAttempts, r.Resend, r.CreatedAt)
	})
}

// insertRows runs one multi-row INSERT of n rows of width values each into table's columns;
// rowArgs appends row i's values to args. The caller bounds n under the databases' limits on a
// statement's parameters.
func insertRows(tx *gorm.DB, table, columns string, width, n int, rowArgs func(args []any, i int) []any) error {
	if n == 0 {
		return nil
	}
	row := "(" + strings.Repeat("?,", width-1) + "?)"
	var q strings.Builder
	q.Grow(len(table) + len(columns) + 30 + n*(len(row)+1))
	q.WriteString("INSERT INTO " + table + " (" + columns + ") VALUES ")
	args := make([]any, 0, width*n)
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(row)
		args = rowArgs(args, i)
	}
	if err := tx.Exec(q.String(), args...).Error; err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	return nil
}

// GetDelivery loads a delivery with the number of its recorded attempts, in one statement.
func (s *Store) GetDelivery(ctx context.Context, id string) (Delivery, int, error) {
	in, err := s.LoadAttempt(ctx, id)
	return in.Delivery, in.Recorded, err
}

// AttemptOutcome is a finished attempt and what it leads to.
type AttemptOutcome struct {
	// Attempt is the attempt to record.
	Attempt DeliveryAttempt
	// Status is the delivery's status after it.
	Status string
	// Resend says the attempt was the one asked by resend or recover: its mark is cleared.
	Resend bool
	// Next, when set, runs in the same transaction (the engine scheduling the next attempt).
	Next func(tx *gorm.DB) error
	// Job, when not 0, is the id of the engine's queue row (river_job) of an attempt the engine
	// made by itself (direct dispatch, see the delivery package; PostgreSQL only): it is deleted
	// with the recording, in the same statement, whether or not the attempt was recorded before.
	Job int64
	// AlbumWebhookID is the webhook of a Kheops delivery: when the attempt ends it (a Status
	// other than pending), the webhook's last triggers are refreshed in the same transaction
	// (last_triggers.go). Empty for the other families.
	AlbumWebhookID string
}

// RecordAttempt stores an attempt and the delivery's resulting status, then runs o.Next in the
// same transaction. It reports false, changing nothing, when that attempt was already recorded
// (a re-run after a crash) or the delivery no longer exists (its webhook was deleted). Attempts
// recorded at the same time share a transaction (see attempt_batch.go); RecordAttempt returns
// once its own has committed.
func (s *Store) RecordAttempt(ctx context.Context, o AttemptOutcome) (bool, error) {
	return s.recorder.Do(ctx, o)
}
