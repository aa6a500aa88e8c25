package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/webhookd/webhookd/internal/batch"
	"github.com/webhookd/webhookd/payload"
)

// Publishing in batches (group commit): PublishEvent calls made while a batch runs wait and run
// together as the next batch, in one transaction with a constant number of statements whatever
// its size: at most one SELECT of the idempotency keys already used, one SELECT of the matching
// webhooks and their secrets per kind of event (facility, user), one INSERT of the events, one
// of the deliveries (per 1,000) and one insert of their jobs. On PostgreSQL the values go as
// arrays, so that each statement's text is the same for every batch size (pgx prepares it once per
// connection), and one INSERT writes the events and their deliveries (see publish_pg.go). A call arriving when nothing runs
// starts at once, alone. If a batch's transaction fails, each of its events is published again
// alone, so that one that cannot be published fails by itself, with its own error.

// publishBatchSize bounds the events of one batch (the events INSERT takes 10 arguments each).
const publishBatchSize = 100

// publishBatches is how many batches run at once: on PostgreSQL two, so that one is built while
// the other commits (with 4, more events ran in batches of one: ingest at 16 clients took
// 361-459 events/s against 434-524 with 2, three runs each side by side); SQLite has one
// writer, so one.
func publishBatches(d Dialect) int {
	if d == Postgres {
		return 2
	}
	return 1
}

// publishCall is one PublishEvent call in a batch.
type publishCall = batch.Call[PublishInput, PublishResult]

// newPublisher returns the batcher PublishEvent runs in: a batch's events are published in one
// transaction, or each alone if that fails (or if it is alone: then it runs under its caller's
// context, as an unbatched call would).
func (s *Store) newPublisher() *batch.Batcher[PublishInput, PublishResult] {
	return batch.New(batch.Config{MaxSize: publishBatchSize, MaxConcurrent: publishBatches(s.dialect)},
		batch.AllOrEach(s.publishTx, func(_ context.Context, c *publishCall) (PublishResult, error) { return s.publishAlone(c) }))
}

// publishAlone publishes one call's event in a transaction of its own. An idempotency key that a
// concurrent transaction used first makes it a duplicate of that one's event.
func (s *Store) publishAlone(c *publishCall) (PublishResult, error) {
	outs, err := s.publishTx(c.Ctx, []*publishCall{c})
	if err == nil {
		return outs[0], nil
	}
	if key := c.In.IdempotencyKey; errors.Is(err, gorm.ErrDuplicatedKey) && key != nil {
		if first, ok, lerr := s.eventByKey(c.Ctx, c.In.Publisher, *key); lerr == nil && ok {
			return PublishResult{EventID: first.ID, Deliveries: first.Deliveries, Duplicate: true}, nil
		}
	}
	return PublishResult{}, fmt.Errorf("publish event: %w", err)
}

// publishTx publishes the events of calls in one transaction and returns their results, in the
// order of calls. An idempotency key already used, or used by an earlier call of the batch, makes
// a call a duplicate of that event. Each job carries its own call's context (its trace).
func (s *Store) publishTx(ctx context.Context, calls []*publishCall) ([]PublishResult, error) {
	outs := make([]PublishResult, len(calls))
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		used, err := s.eventsByKeys(tx, calls)
		if err != nil {
			return err
		}
		// create[i] says call i creates its event; dupOf[i] >= 0 names the earlier call of the
		// batch whose event it duplicates.
		create := make([]bool, len(calls))
		dupOf := make([]int, len(calls))
		firstOf := map[idempotency]int{}
		var fresh []*publishCall
		for i, c := range calls {
			dupOf[i] = -1
			if c.In.IdempotencyKey != nil {
				k := idempotency{c.In.Publisher, *c.In.IdempotencyKey}
				if ev, ok := used[k]; ok {
					outs[i] = PublishResult{EventID: ev.ID, Deliveries: ev.Deliveries, Duplicate: true}
					continue
				}
				if j, ok := firstOf[k]; ok {
					dupOf[i] = j
					continue
				}
				firstOf[k] = i
			}
			create[i] = true
			fresh = append(fresh, c)
		}
		targets, err := publishTargetsOf(tx, fresh)
		if err != nil {
			return err
		}
		events := make([]Event, 0, len(fresh))
		var (
			rows []Delivery
			refs []DeliveryRef
		)
		for i, c := range calls {
			if !create[i] {
				continue
			}
			in := c.In
			ev := Event{ID: uuid.NewString(), Kind: in.Kind, EventType: in.EventType, Publisher: in.Publisher,
				IdempotencyKey: in.IdempotencyKey, Data: string(in.Data), CreatedAt: time.Now().UTC()}
			if in.Kind == EventKindFacility {
				ev.FacilityID = &in.FacilityID
			} else {
				ev.ClientID = &in.ClientID
			}
			hooks := targets[keyOf(in)]
			ev.Deliveries = len(hooks)
			eventID := ev.ID
			events = append(events, ev)
			outs[i] = PublishResult{EventID: ev.ID, Deliveries: ev.Deliveries}
			if len(hooks) == 0 {
				continue
			}
			body, err := payload.Marshal(payload.Facility{Data: in.Data, EventType: in.EventType})
			if err != nil {
				return err
			}
			var facilityID *string
			if in.Kind == EventKindFacility {
				facilityID = &in.FacilityID
			} else if fid := facilityIDOf(in.Data); fid != "" {
				facilityID = &fid
			}
			for _, h := range hooks {
				d := Delivery{ID: RandomString(DeliveryIDLength), Family: in.Kind, WebhookID: h.ID, Event: in.EventType,
					URL: h.URL, Secrets: h.secretsJSON(), Payload: body, ClientID: &h.ClientID, EventID: &eventID,
					FacilityID: facilityID, Status: DeliveryPending, MaxAttempts: s.cfg.FacilityMaxAttempts, CreatedAt: ev.CreatedAt}
				rows = append(rows, d)
				refs = append(refs, DeliveryRef{ID: d.ID, WebhookID: d.WebhookID, Ctx: c.Ctx, Healthy: h.Healthy})
			}
		}
		for i := range calls {
			if j := dupOf[i]; j >= 0 {
				outs[i] = PublishResult{EventID: outs[j].EventID, Deliveries: outs[j].Deliveries, Duplicate: true}
			}
		}
		if s.dialect == Postgres {
			if err := insertPublishedPG(tx, events, rows, s.cfg.FacilityMaxAttempts); err != nil {
				return err
			}
			return s.enqueueDeliveries(ctx, tx, rows, refs)
		}
		if err := insertEvents(tx, events); err != nil {
			return err
		}
		return s.insertDeliveries(ctx, tx, rows, refs)
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// idempotency is an idempotency key of a publisher.
type idempotency struct{ publisher, key string }

// eventsByKeys reads, in one statement, the events that already hold the idempotency keys of
// calls.
func (s *Store) eventsByKeys(tx *gorm.DB, calls []*publishCall) (map[idempotency]Event, error) {
	keysQuery := eventsByKeysQuery
	if s.dialect == Postgres {
		keysQuery = eventsByKeysQueryPG
	}
	q, args := keysQuery(calls)
	if q == "" {
		return nil, nil
	}
	rows, err := tx.Raw(q, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("read events by idempotency key: %w", err)
	}
	used := map[idempotency]Event{}
	for rows.Next() {
		var (
			k  idempotency
			ev Event
		)
		if err := rows.Scan(&k.publisher, &k.key, &ev.ID, &ev.Deliveries); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read events by idempotency key: %w", err)
		}
		used[k] = ev
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read events by idempotency key: %w", err)
	}
	return used, nil
}

// eventsByKeysQuery returns the statement of eventsByKeys and its arguments, "" when no call
// has a key: one condition per publisher, its keys as an IN list.
func eventsByKeysQuery(calls []*publishCall) (string, []any) {
	byPublisher := map[string][]any{}
	var publishers []string
	for _, c := range calls {
		if c.In.IdempotencyKey == nil {
			continue
		}
		if _, ok := byPublisher[c.In.Publisher]; !ok {
			publishers = append(publishers, c.In.Publisher)
		}
		byPublisher[c.In.Publisher] = append(byPublisher[c.In.Publisher], *c.In.IdempotencyKey)
	}
	if len(publishers) == 0 {
		return "", nil
	}
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString("SELECT publisher, idempotency_key, id, deliveries FROM events WHERE ")
	for i, p := range publishers {
		if i > 0 {
			q.WriteString(" OR ")
		}
		keys := byPublisher[p]
		q.WriteString("(publisher = ? AND idempotency_key IN (?" + strings.Repeat(",?", len(keys)-1) + "))")
		args = append(append(args, p), keys...)
	}
	return q.String(), args
}

// publishKey is what selects an event's webhooks: its kind, its target (a facility id, or for
// user events a client id) and its type.
type publishKey struct{ kind, target, event string }

func keyOf(in PublishInput) publishKey {
	if in.Kind == EventKindFacility {
		return publishKey{EventKindFacility, in.FacilityID, in.EventType}
	}
	return publishKey{EventKindUser, in.ClientID, in.EventType}
}

// publishTarget is what a delivery needs of a matching webhook.
type publishTarget struct {
	ID, URL, ClientID string
	Secrets           []string
	// Healthy: the webhook has no webhook_health row (DeliveryRef.Healthy).
	Healthy bool
}

func (h publishTarget) secretsJSON() string {
	b, _ := json.Marshal(h.Secrets) // a []string always marshals
	return string(b)
}

// Match queries of publishTargetsOf: for every key k (n, target, event), the enabled webhooks of
// the kind listening to the event, with their secrets, oldest first.
const (
	publishMatchFacility = `SELECT k.n, w.id, w.url, w.client_id, s.secret, h.webhook_id IS NULL FROM k
		JOIN facility_webhook_facilities f ON f.facility_id = k.target
		JOIN facility_webhooks w ON w.id = f.webhook_id`
	publishMatchUser = `SELECT k.n, w.id, w.url, w.client_id, s.secret, h.webhook_id IS NULL FROM k
		JOIN facility_webhooks w ON w.client_id = k.target`
	publishMatchRest = `
		LEFT JOIN facility_webhook_secrets s ON s.webhook_id = w.id
		LEFT JOIN webhook_health h ON h.webhook_id = w.id
		WHERE w.kind = ? AND w.enabled AND EXISTS (
			SELECT 1 FROM facility_webhook_events e WHERE e.event IN (k.event, ?) AND e.webhook_id = w.id)
		ORDER BY w.created_at, w.id, s.position`
)

// publishTargetsOf reads the webhooks every call's event goes to, with their secrets, in one
// statement per kind of event (share-locked on PostgreSQL, like MatchingFacilityWebhooks), scanned
// by hand: publishing reads only these columns, and GORM's reflection was a sixth of its CPU.
func publishTargetsOf(tx *gorm.DB, calls []*publishCall) (map[publishKey][]publishTarget, error) {
	keys := map[string][]publishKey{} // by kind, each key once
	seen := map[publishKey]bool{}
	for _, c := range calls {
		k := keyOf(c.In)
		if !seen[k] {
			seen[k] = true
			keys[k.kind] = append(keys[k.kind], k)
		}
	}
	targets := make(map[publishKey][]publishTarget, len(seen))
	for _, kind := range []string{EventKindFacility, EventKindUser} {
		if len(keys[kind]) == 0 {
			continue
		}
		if err := readTargets(tx, kind, keys[kind], targets); err != nil {
			return nil, err
		}
	}
	return targets, nil
}

// readTargets reads the webhooks of keys, all of one kind, into targets.
func readTargets(tx *gorm.DB, kind string, keys []publishKey, targets map[publishKey][]publishTarget) error {
	var q strings.Builder
	args := make([]any, 0, 3*len(keys)+2)
	postgres := tx.Dialector.Name() == string(Postgres)
	if postgres {
		targets, events := make([]string, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			targets[i], events[i] = k.target, k.event
		}
		q.WriteString(pgPublishKeys)
		args = append(args, pgArray(targets), pgArray(events))
	} else {
		q.WriteString("WITH k (n, target, event) AS (VALUES ")
		for i, k := range keys {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT))")
			args = append(args, i, k.target, k.event)
		}
		q.WriteString(") ")
	}
	if kind == EventKindFacility {
		q.WriteString(publishMatchFacility)
	} else {
		q.WriteString(publishMatchUser)
	}
	q.WriteString(publishMatchRest)
	args = append(args, kind, FacilityEventAll)
	if postgres {
		q.WriteString(" FOR SHARE OF w")
	}
	rows, err := tx.Raw(q.String(), args...).Rows()
	if err != nil {
		return fmt.Errorf("match webhooks: %w", err)
	}
	for rows.Next() {
		var (
			n      int
			h      publishTarget
			secret sql.NullString
		)
		if err := rows.Scan(&n, &h.ID, &h.URL, &h.ClientID, &secret, &h.Healthy); err != nil {
			_ = rows.Close()
			return fmt.Errorf("match webhooks: %w", err)
		}
		if n < 0 || n >= len(keys) {
			_ = rows.Close()
			return fmt.Errorf("match webhooks: key %d of %d", n, len(keys))
		}
		// A webhook's rows (one per secret, in order) come together.
		hooks := targets[keys[n]]
		if len(hooks) == 0 || hooks[len(hooks)-1].ID != h.ID {
			h.Secrets = []string{}
			hooks = append(hooks, h)
		}
		if secret.Valid {
			last := &hooks[len(hooks)-1]
			last.Secrets = append(last.Secrets, secret.String)
		}
		targets[keys[n]] = hooks
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("match webhooks: %w", err)
	}
	return nil
}

// eventColumns are the columns insertEvents writes, in the order of its arguments.
const eventColumns = "id, kind, event_type, facility_id, client_id, publisher, idempotency_key, data, deliveries, created_at"

// insertEvents inserts events in one multi-row INSERT built by hand (publishBatchSize bounds
// them, and their arguments, well under the databases' limits).
func insertEvents(tx *gorm.DB, events []Event) error {
	return insertRows(tx, "events", eventColumns, 10, len(events), func(args []any, i int) []any {
		e := events[i]
		return append(args, e.ID, e.Kind, e.EventType, e.FacilityID, e.ClientID, e.Publisher, e.IdempotencyKey, e.Data,
			e.Deliveries, e.CreatedAt)
	})
}
