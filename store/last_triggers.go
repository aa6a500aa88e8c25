package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// Last triggers: an album webhook's 5 newest deliveries (Kheops' last_triggers) are kept on its
// row, in album_webhooks.last_triggers, so that a list of 100 webhooks reads 100 rows instead of
// looking up each webhook's deliveries (100 index descents, one level deeper as the history
// grows: 58 % of PostgreSQL's CPU for a list).
//
// Every statement that adds an album webhook's delivery or changes one's status is followed, in
// its transaction and as its last step, by refreshLastTriggers: it recomputes the 5 from the
// deliveries. On PostgreSQL it first locks the webhooks' rows, in id order, in a statement of
// its own, so that the recomputation reads a snapshot taken after any other transaction that
// held them committed: of two transactions changing one webhook's deliveries at once, the one
// that refreshes last sees the other's change, and no change is lost. The id order keeps two
// refreshes of overlapping webhooks from waiting on each other in a cycle. SQLite has one
// writer at a time.

// LastTriggersSQL is an expression of a row of album_webhooks named alias: its 5 newest
// deliveries, newest first, in one string that parseLastTriggers reads (NULL when the webhook
// never fired). Each delivery is its status, the length of its id in bytes, ':' and its id, so
// that no id can be misread whatever its characters.
//
// The aggregate takes the deliveries in the order of the subquery that selects them: the rows of
// a LIMIT over an ORDER BY, which neither database can merge into the aggregate nor reorder. An
// ORDER BY inside the aggregate would sort each webhook's 5 rows again.
// TestListWebhooksPages and TestLastTriggersWithSimultaneousDeliveries check the order on both
// databases (string_agg and octet_length are SQLite's too since 3.44).
//
// Programs that write deliveries around the store (the benchmarks' seeds) set
// album_webhooks.last_triggers to this expression of its row.
func LastTriggersSQL(alias string) string {
	return `(SELECT string_agg(d.status || octet_length(d.id) || ':' || d.id, '') FROM (SELECT id, status
			FROM deliveries WHERE webhook_id = ` + alias + `.id ORDER BY created_at DESC, id DESC LIMIT 5) d)`
}

// refreshLastTriggers recomputes the last triggers of the album webhooks ids (any order,
// repeats allowed; ids of other webhooks are ignored), adding one to each one's trigger count
// when counted (its new delivery; once, however often it is repeated). It must be the last statement of tx that writes deliveries or
// album webhooks. Two statements on PostgreSQL, one on SQLite.
func refreshLastTriggers(tx *gorm.DB, ids []string, counted bool) error {
	if len(ids) == 0 {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if tx.Dialector.Name() == string(Postgres) {
		var locked []string
		if err := tx.Raw(`SELECT id FROM album_webhooks WHERE id IN ? ORDER BY id FOR UPDATE`, ids).Scan(&locked).Error; err != nil {
			return fmt.Errorf("refresh last triggers: %w", err)
		}
		if len(locked) == 0 {
			return nil
		}
	}
	set := `last_triggers = ` + LastTriggersSQL("album_webhooks")
	if counted {
		set += `, number_of_triggers = number_of_triggers + 1`
	}
	if err := tx.Exec(`UPDATE album_webhooks SET `+set+` WHERE id IN ?`, ids).Error; err != nil {
		return fmt.Errorf("refresh last triggers: %w", err)
	}
	return nil
}

// RecountTriggers sets the trigger count and the last triggers of the album webhooks ids from
// the deliveries stored, for deliveries written around the store (an import, a benchmark's or a
// test's seed).
func (s *Store) RecountTriggers(ctx context.Context, ids ...string) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE album_webhooks SET number_of_triggers =
			(SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = album_webhooks.id) WHERE id IN ?`, ids).Error; err != nil {
			return fmt.Errorf("recount triggers: %w", err)
		}
		return refreshLastTriggers(tx, ids, false)
	})
}

// parseLastTriggers reads what LastTriggersSQL made.
func parseLastTriggers(s string) ([]TriggerSummary, error) {
	if s == "" {
		return nil, nil
	}
	out := make([]TriggerSummary, 0, 5)
	for s != "" {
		digits := strings.IndexAny(s, "0123456789")
		colon := strings.IndexByte(s, ':')
		if digits < 1 || colon < digits {
			return nil, fmt.Errorf("malformed last triggers %q", s)
		}
		size, err := strconv.Atoi(s[digits:colon])
		if err != nil || size > len(s)-colon-1 {
			return nil, fmt.Errorf("malformed last triggers %q", s)
		}
		id := s[colon+1 : colon+1+size]
		out = append(out, TriggerSummary{ID: id, Success: s[:digits] == DeliverySuccess})
		s = s[colon+1+size:]
	}
	return out, nil
}
