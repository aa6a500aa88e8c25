package store

import (
	"fmt"

	"gorm.io/gorm"
)

// webhookHealth is a webhook's row of webhook_health, present only once something went wrong
// with it (see migration 5).
type webhookHealth struct {
	WebhookID string `gorm:"primaryKey"`
}

func (webhookHealth) TableName() string { return "webhook_health" }

// resetHealth forgets a webhook's failing streak, pace and postponement (it was enabled again).
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
