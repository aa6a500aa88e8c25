package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Endpoint health: what the delivery engine learns of a webhook's endpoint from its answers,
// kept in webhook_health (one row per webhook, written only once something went wrong, so a
// healthy webhook costs no write) and in the webhook's enabled/disabled_reason.

// Health is a webhook's health as the engine reads it before an attempt.
type Health struct {
	// FailingSince is when the current run of failed attempts began; nil after a success.
	FailingSince *time.Time
	// FailedDeliveries counts the deliveries that ended failed since FailingSince.
	FailedDeliveries int
	// NotBefore: nothing is sent to the webhook before it (Retry-After, pace); nil for no bound.
	NotBefore *time.Time
	// PaceMS is the least time between two attempts, in ms, while the endpoint answers 429 or
	// 503 without Retry-After; 0 for no pace.
	PaceMS int64
}

// Troubled tells whether the row holds anything a success must reset.
func (h Health) Troubled() bool { return h.FailingSince != nil || h.PaceMS > 0 }

// AttemptInput is what an attempt needs: the delivery, its recorded attempts, and the state
// of its webhook.
type AttemptInput struct {
	Delivery
	// Recorded is the number of attempts recorded.
	Recorded int
	// HookExists is false when the webhook was deleted; HookEnabled tells whether it is enabled.
	HookExists, HookEnabled bool
	Health
}

// webhookHealth is a row of webhook_health.
type webhookHealth struct {
	WebhookID        string `gorm:"primaryKey"`
	FailingSince     *time.Time
	FailedDeliveries int
	NotBefore        *time.Time
	PaceMS           int64 `gorm:"column:pace_ms"`
}

func (webhookHealth) TableName() string { return "webhook_health" }

// LoadAttempt reads a delivery, the number of its recorded attempts and its webhook's state,
// in one statement shared with the loads that wait at the same time (see attempt_batch.go).
// ErrNotFound when the delivery does not exist.
func (s *Store) LoadAttempt(ctx context.Context, id string) (AttemptInput, error) {
	return s.loader.Do(ctx, id)
}

// AbandonDelivery ends a pending delivery as failed without an attempt (its webhook was
// disabled while it waited).
func (s *Store) AbandonDelivery(ctx context.Context, id string) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		var ended []Delivery
		err := tx.Raw(`UPDATE deliveries SET status = ?, resend = FALSE WHERE id = ? AND status = ? RETURNING family, webhook_id`,
			DeliveryFailure, id, DeliveryPending).Scan(&ended).Error
		if err != nil {
			return fmt.Errorf("abandon delivery: %w", err)
		}
		if len(ended) == 1 && ended[0].Family == FamilyKheops {
			return refreshLastTriggers(tx, []string{ended[0].WebhookID}, false)
		}
		return nil
	})
}

// ReservePace takes the webhook's next paced slot: when nothing bounds it (not_before is past
// or unset) it sets not_before to now+pace and reports true; else another attempt has the slot
// and it reports false. One statement.
func (s *Store) ReservePace(ctx context.Context, webhookID string, now time.Time, pace time.Duration) (bool, error) {
	now = now.UTC()
	res := s.db.WithContext(ctx).Model(&webhookHealth{}).
		Where("webhook_id = ? AND (not_before IS NULL OR not_before <= ?)", webhookID, now).
		Update("not_before", now.Add(pace))
	if res.Error != nil {
		return false, fmt.Errorf("reserve pace: %w", res.Error)
	}
	return res.RowsAffected > 0, nil
}

// HealthPolicy says when sustained failure disables a webhook.
type HealthPolicy struct {
	// DisableAfter: a webhook whose attempts have all failed for this long...
	DisableAfter time.Duration
	// MinDeliveries: ...and with at least this many deliveries ended failed meanwhile is
	// disabled.
	MinDeliveries int
}

// RecordSuccess resets a troubled webhook's failing run and halves its pace (below minPace it
// ends), in tx. Call it only when the health read before the attempt was Troubled.
func RecordSuccess(tx *gorm.DB, webhookID string, minPace time.Duration) error {
	err := tx.Model(&webhookHealth{}).Where("webhook_id = ?", webhookID).Updates(map[string]any{
		"failing_since": nil, "failed_deliveries": 0,
		"pace_ms": gorm.Expr("CASE WHEN pace_ms / 2 < ? THEN 0 ELSE pace_ms / 2 END", minPace.Milliseconds()),
	}).Error
	if err != nil {
		return fmt.Errorf("record success: %w", err)
	}
	return nil
}

// RecordFailure adds a failed attempt to the webhook's failing run (begun at now if none was
// running; ended says the delivery ended failed with it), in tx, and tells whether the run is
// now long enough for p to disable the webhook. One statement.
func RecordFailure(tx *gorm.DB, webhookID string, now time.Time, ended bool, p HealthPolicy) (bool, error) {
	now = now.UTC()
	add := 0
	if ended {
		add = 1
	}
	var rows []struct{ Sustained bool }
	err := tx.Raw(`INSERT INTO webhook_health (webhook_id, failing_since, failed_deliveries, pace_ms) VALUES (?, ?, ?, 0)
		ON CONFLICT (webhook_id) DO UPDATE SET
			failing_since = COALESCE(webhook_health.failing_since, excluded.failing_since),
			failed_deliveries = webhook_health.failed_deliveries + excluded.failed_deliveries
		RETURNING (failing_since <= ? AND failed_deliveries >= ?) AS sustained`,
		webhookID, now, add, now.Add(-p.DisableAfter), p.MinDeliveries).Scan(&rows).Error
	if err != nil {
		return false, fmt.Errorf("record failure: %w", err)
	}
	return len(rows) == 1 && rows[0].Sustained, nil
}

// Postpone bounds the webhook's next attempts to `until` or later, in tx; pace, when not nil,
// becomes its pace. One statement.
func Postpone(tx *gorm.DB, webhookID string, until time.Time, pace *time.Duration) error {
	until = until.UTC()
	paceMS, setPace := int64(0), 0
	if pace != nil {
		paceMS, setPace = pace.Milliseconds(), 1
	}
	err := tx.Exec(`INSERT INTO webhook_health (webhook_id, failed_deliveries, not_before, pace_ms) VALUES (?, 0, ?, ?)
		ON CONFLICT (webhook_id) DO UPDATE SET
			not_before = CASE WHEN webhook_health.not_before > excluded.not_before
				THEN webhook_health.not_before ELSE excluded.not_before END,
			pace_ms = CASE WHEN ? = 1 THEN excluded.pace_ms ELSE webhook_health.pace_ms END`,
		webhookID, until, paceMS, setPace).Error
	if err != nil {
		return fmt.Errorf("postpone webhook: %w", err)
	}
	return nil
}

// DisableWebhook disables a webhook of family with reason, and ends its pending deliveries as
// failed, in tx. It reports false, changing nothing, when the webhook is gone or was disabled
// already. Two statements.
func DisableWebhook(tx *gorm.DB, family, webhookID, reason string) (bool, error) {
	var model any = &AlbumWebhook{}
	if family != FamilyKheops {
		model = &FacilityWebhook{}
	}
	res := tx.Model(model).Where("id = ? AND enabled", webhookID).
		Updates(map[string]any{"enabled": false, "disabled_reason": reason})
	if res.Error != nil {
		return false, fmt.Errorf("disable webhook: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	if err := tx.Model(&Delivery{}).Where("webhook_id = ? AND status = ?", webhookID, DeliveryPending).
		Updates(map[string]any{"status": DeliveryFailure, "resend": false}).Error; err != nil {
		return false, fmt.Errorf("fail pending deliveries: %w", err)
	}
	if family == FamilyKheops {
		if err := refreshLastTriggers(tx, []string{webhookID}, false); err != nil {
			return false, err
		}
	}
	return true, nil
}

// resetHealth forgets a webhook's failing run, pace and postponement (it was enabled again).
func resetHealth(tx *gorm.DB, webhookID string) error {
	if err := tx.Where("webhook_id = ?", webhookID).Delete(&webhookHealth{}).Error; err != nil {
		return fmt.Errorf("reset webhook health: %w", err)
	}
	return nil
}

// setFacilityEnabled enables or disables a facility or user webhook. Enabling clears the reason
// the service disabled it and its health.
func setFacilityEnabled(tx *gorm.DB, w *FacilityWebhook, enabled bool) error {
	updates := map[string]any{"enabled": enabled}
	if enabled {
		updates["disabled_reason"] = nil
		if err := resetHealth(tx, w.ID); err != nil {
			return err
		}
	}
	if err := tx.Model(&FacilityWebhook{}).Where("id = ?", w.ID).Updates(updates).Error; err != nil {
		return fmt.Errorf("update enabled: %w", err)
	}
	w.Enabled = enabled
	if enabled {
		w.DisabledReason = nil
	}
	return nil
}
