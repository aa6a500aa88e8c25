package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Resending and recovering deliveries. Both mark the chosen deliveries in one UPDATE and
// queue one job per marked delivery in one insert, in one transaction: a constant number of
// statements whatever the number of deliveries. The mark (deliveries.resend) is set only where
// it is not set yet, in the same statement, so asking again while the first request is queued
// marks, and queues, nothing more.
//
// A resent delivery gets one more attempt: its status becomes pending until that attempt ends,
// and then follows its outcome. It goes to the webhook's current url, signed with its current
// secrets (the webhook may have been fixed since). A delivery that was still pending keeps its
// retry schedule; one that had ended gets exactly one more attempt (max_attempts grows by one).

// ErrDeliveryNotFound is returned (wrapped) for a delivery that is not the caller's.
var ErrDeliveryNotFound = errors.New("delivery not found")

// ResendKheopsDelivery queues one more attempt of delivery deliveryID of the album's webhook.
// A webhook of another album is ErrWebhookNotFound; a delivery of another webhook is
// ErrDeliveryNotFound. A delivery whose resend is already queued is left as it is (no error).
func (s *Store) ResendKheopsDelivery(ctx context.Context, albumID, webhookID, deliveryID string) error {
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		if _, err := getWebhook(tx, albumID, webhookID); err != nil {
			return err
		}
		ids, err := s.markResend(tx, FamilyKheops, "family = ? AND webhook_id = ? AND id = ?",
			FamilyKheops, webhookID, deliveryID)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return s.deliveryExists(tx, "family = ? AND webhook_id = ? AND id = ?", FamilyKheops, webhookID, deliveryID)
		}
		if err := s.enqueueResends(ctx, tx, ids); err != nil {
			return err
		}
		return refreshLastTriggers(tx, []string{webhookID}, false)
	})
	if err != nil {
		return fmt.Errorf("resend delivery: %w", err)
	}
	return nil
}

// RecoverKheopsDeliveries queues one more attempt of every failed delivery of the album's
// webhook created in [since, until) and reports how many it queued. A webhook of another album
// is ErrWebhookNotFound.
func (s *Store) RecoverKheopsDeliveries(ctx context.Context, albumID, webhookID string, since, until time.Time) (int, error) {
	var n int
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		if _, err := getWebhook(tx, albumID, webhookID); err != nil {
			return err
		}
		var err error
		n, err = s.resendFailed(ctx, tx, FamilyKheops, FamilyKheops, webhookID, since, until)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover deliveries: %w", err)
	}
	return n, nil
}

// ResendLog queues one more attempt of clientID's facility or user delivery deliveryID.
// ErrDeliveryNotFound when it is another application's, or its webhook was deleted. A delivery
// whose resend is already queued is left as it is (no error).
func (s *Store) ResendLog(ctx context.Context, clientID, deliveryID string) error {
	const where = `family IN (?, ?) AND client_id = ? AND id = ?
		AND EXISTS (SELECT 1 FROM facility_webhooks w WHERE w.id = deliveries.webhook_id AND w.client_id = ?)`
	args := []any{FamilyFacility, FamilyUser, clientID, deliveryID, clientID}
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		ids, err := s.markResend(tx, FamilyFacility, where, args...)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return s.deliveryExists(tx, where, args...)
		}
		return s.enqueueResends(ctx, tx, ids)
	})
	if err != nil {
		return fmt.Errorf("resend log: %w", err)
	}
	return nil
}

// RecoverFacilityDeliveries queues one more attempt of every failed delivery of clientID's
// webhook of kind (FamilyFacility or FamilyUser) created in [since, until), and reports how
// many it queued. ErrNotFound when there is no such webhook.
func (s *Store) RecoverFacilityDeliveries(ctx context.Context, clientID, kind, webhookID string, since, until time.Time) (int, error) {
	var n int
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		var found int64
		if err := tx.Model(&FacilityWebhook{}).Where("id = ? AND client_id = ? AND kind = ?", webhookID, clientID, kind).
			Count(&found).Error; err != nil {
			return fmt.Errorf("read webhook: %w", err)
		}
		if found == 0 {
			return fmt.Errorf("facility webhook %q: %w", webhookID, ErrNotFound)
		}
		var err error
		n, err = s.resendFailed(ctx, tx, FamilyFacility, kind, webhookID, since, until)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover deliveries: %w", err)
	}
	return n, nil
}

// resendFailed marks and queues every failed delivery of the webhook, of the given delivery
// family, created in [since, until), and reports how many. table is markResend's family: the
// webhook table holding their current target.
func (s *Store) resendFailed(ctx context.Context, tx *gorm.DB, table, family, webhookID string, since, until time.Time) (int, error) {
	ids, err := s.markResend(tx, table,
		"family = ? AND webhook_id = ? AND created_at >= ? AND created_at < ? AND status = ?",
		family, webhookID, since.UTC(), until.UTC(), DeliveryFailure)
	if err != nil {
		return 0, err
	}
	if err := s.enqueueResends(ctx, tx, ids); err != nil {
		return 0, err
	}
	if table == FamilyKheops && len(ids) > 0 {
		if err := refreshLastTriggers(tx, []string{webhookID}, false); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// markResend marks the deliveries selected by where (on deliveries, with args) whose resend is
// not queued yet, in one statement, and returns them. family says which webhook table
// holds their current target (FamilyKheops, or FamilyFacility for both other kinds).
func (s *Store) markResend(tx *gorm.DB, family, where string, args ...any) ([]DeliveryRef, error) {
	target := `url = (SELECT w.url FROM album_webhooks w WHERE w.id = deliveries.webhook_id),
		secrets = (SELECT ` + s.jsonArraySQL("w.secret") + ` FROM album_webhooks w WHERE w.id = deliveries.webhook_id)`
	if family != FamilyKheops {
		target = `url = (SELECT w.url FROM facility_webhooks w WHERE w.id = deliveries.webhook_id),
		secrets = (SELECT ` + s.jsonAggSQL("s.secret", "s.position") + ` FROM facility_webhook_secrets s
			WHERE s.webhook_id = deliveries.webhook_id)`
	}
	var ids []DeliveryRef
	err := tx.Raw(`UPDATE deliveries SET resend = TRUE, status = ?,
		max_attempts = CASE WHEN status = ? THEN max_attempts
			ELSE (SELECT COUNT(*) FROM delivery_attempts a WHERE a.delivery_id = deliveries.id) + 1 END,
		`+target+`
		WHERE NOT resend AND `+where+` RETURNING id, webhook_id`,
		append([]any{DeliveryPending, DeliveryPending}, args...)...).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("mark deliveries: %w", err)
	}
	return ids, nil
}

// deliveryExists answers ErrDeliveryNotFound unless a delivery matches where.
func (s *Store) deliveryExists(tx *gorm.DB, where string, args ...any) error {
	var n int64
	if err := tx.Model(&Delivery{}).Where(where, args...).Count(&n).Error; err != nil {
		return fmt.Errorf("read delivery: %w", err)
	}
	if n == 0 {
		return ErrDeliveryNotFound
	}
	return nil
}

func (s *Store) enqueueResends(ctx context.Context, tx *gorm.DB, ids []DeliveryRef) error {
	if len(ids) == 0 {
		return nil
	}
	sqlTx, err := SQLTx(tx)
	if err != nil {
		return err
	}
	if err := s.enq.EnqueueResends(ctx, sqlTx, ids); err != nil {
		return fmt.Errorf("enqueue resends: %w", err)
	}
	noteEnqueued(tx, nil) // resends: no delivery is created
	return nil
}

// jsonArraySQL spells the JSON text of a one-element array of a nullable text column ('[]'
// when it is NULL), the form deliveries.secrets takes.
func (s *Store) jsonArraySQL(col string) string {
	if s.dialect == Postgres {
		return "CASE WHEN " + col + " IS NULL THEN '[]' ELSE json_build_array(" + col + ")::text END"
	}
	return "CASE WHEN " + col + " IS NULL THEN '[]' ELSE json_array(" + col + ") END"
}

// jsonAggSQL spells the JSON text of the array of col over the rows, ordered by order.
func (s *Store) jsonAggSQL(col, order string) string {
	if s.dialect == Postgres {
		return "COALESCE(json_agg(" + col + " ORDER BY " + order + "), '[]')::text"
	}
	return "json_group_array(" + col + " ORDER BY " + order + ")"
}
