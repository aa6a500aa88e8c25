package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// On PostgreSQL a batch's values travel as arrays (unnest), so each statement's text is the same
// whatever the batch's size: pgx prepares it once per connection instead of once per size, and
// the events and their deliveries are inserted by one statement.

// pgEventsByKeys is the statement of eventsByKeysQueryPG.
const pgEventsByKeys = `SELECT e.publisher, e.idempotency_key, e.id, e.deliveries FROM events e
	JOIN unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS k (publisher, key)
	ON e.publisher = k.publisher AND e.idempotency_key = k.key`

// eventsByKeysQueryPG is eventsByKeysQuery on PostgreSQL: the publishers and keys go as two
// arrays, so the statement's text is the same whatever the batch.
func eventsByKeysQueryPG(calls []*publishCall) (string, []any) {
	var publishers, keys []string
	for _, c := range calls {
		if c.In.IdempotencyKey != nil {
			publishers, keys = append(publishers, c.In.Publisher), append(keys, *c.In.IdempotencyKey)
		}
	}
	if len(keys) == 0 {
		return "", nil
	}
	return pgEventsByKeys, []any{pgArray(publishers), pgArray(keys)}
}

// pgPublishKeys makes readTargets' k (n, target, event) of two arrays on PostgreSQL.
const pgPublishKeys = `WITH k (n, target, event) AS (SELECT CAST(u.n AS INTEGER) - 1, u.target, u.event
	FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[])) WITH ORDINALITY AS u (target, event, n)) `

// pgInsertPublished inserts a batch's events and their deliveries in one statement: every
// column that varies is an array, the rest (status, attempts) one value.
const pgInsertPublished = `WITH ev AS (
	INSERT INTO events (id, kind, event_type, facility_id, client_id, publisher, idempotency_key, data, deliveries, created_at)
	SELECT * FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]),
		CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS INTEGER[]), CAST(? AS TIMESTAMPTZ[])))
INSERT INTO deliveries (id, family, webhook_id, event, url, secrets, payload, facility_id, client_id, event_id, created_at,
	status, max_attempts)
SELECT d.*, CAST(? AS TEXT), CAST(? AS INTEGER) FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]),
	CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]),
	CAST(? AS TEXT[]), CAST(? AS TIMESTAMPTZ[]))
	AS d (id, family, webhook_id, event, url, secrets, payload, facility_id, client_id, event_id, created_at)`

// insertPublishedPG inserts events and their deliveries in one statement (PostgreSQL). rows are
// as publishTx makes them: pending, with maxAttempts, none of the Kheops columns set.
func insertPublishedPG(tx *gorm.DB, events []Event, rows []Delivery, maxAttempts int) error {
	if len(events) == 0 {
		return nil
	}
	var (
		ids, kinds, types, publishers, data []string
		facilities, clients, keys           []*string
		counts                              []int32
		times                               []time.Time
	)
	for _, e := range events {
		ids, kinds, types, publishers, data = append(ids, e.ID), append(kinds, e.Kind), append(types, e.EventType),
			append(publishers, e.Publisher), append(data, e.Data)
		facilities, clients, keys = append(facilities, e.FacilityID), append(clients, e.ClientID), append(keys, e.IdempotencyKey)
		counts, times = append(counts, int32(e.Deliveries)), append(times, e.CreatedAt)
	}
	n := len(rows)
	dIDs, families, hooks, dEvents, urls, secrets, payloads, eventIDs := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	dFacilities, dClients, dTimes := make([]*string, n), make([]*string, n), make([]time.Time, n)
	for i, r := range rows {
		dIDs[i], families[i], hooks[i], dEvents[i], urls[i], secrets[i], payloads[i], eventIDs[i] = r.ID, r.Family,
			r.WebhookID, r.Event, r.URL, r.Secrets, r.Payload, *r.EventID
		dFacilities[i], dClients[i], dTimes[i] = r.FacilityID, r.ClientID, r.CreatedAt
	}
	if err := tx.Exec(pgInsertPublished, pgArray(ids), pgArray(kinds), pgArray(types), pgArray(facilities), pgArray(clients),
		pgArray(publishers), pgArray(keys), pgArray(data), pgArray(counts), pgArray(times),
		DeliveryPending, maxAttempts, pgArray(dIDs), pgArray(families), pgArray(hooks), pgArray(dEvents), pgArray(urls),
		pgArray(secrets), pgArray(payloads), pgArray(dFacilities), pgArray(dClients), pgArray(eventIDs), pgArray(dTimes)).Error; err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}
