package delivery

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"gorm.io/gorm"

	"github.com/webhookd/webhookd/store"
)

// Endpoint health: what an attempt's answer says of the webhook's endpoint, beyond the
// delivery's own retries (README, "Endpoint health").
const (
	// DefaultDisableAfter is how long every attempt of a webhook may fail before it is disabled.
	DefaultDisableAfter = 5 * 24 * time.Hour
	// DisableMinDeliveries is how many deliveries must have ended failed meanwhile.
	DisableMinDeliveries = 10
	// DefaultWebhookConcurrency bounds the attempts in flight per webhook and process.
	DefaultWebhookConcurrency = 10
	// DefaultFastWebhookConcurrency bounds them while the webhook's attempts take under 100 ms
	// on average (limiter.go).
	DefaultFastWebhookConcurrency = 40
	// MaxPostpone bounds how far a Retry-After postpones a webhook.
	MaxPostpone = time.Hour
	// MinPace and MaxPace bound the pace of a webhook answering 429 or 503 without
	// Retry-After: the least time between two of its attempts, doubled at each such answer
	// and halved at each success (below MinPace it ends).
	MinPace = time.Second
	MaxPace = time.Minute
)

// verdict is what an attempt's result does to its webhook's health.
type verdict struct {
	// success resets a troubled webhook.
	success bool
	// failure adds to the webhook's failing run; ended says the delivery ended failed.
	failure, ended bool
	// gone disables the webhook now (410).
	gone bool
	// postpone, when set, is the time before which nothing more is sent to the webhook.
	postpone *time.Time
	// pace, when set, is the webhook's new pace.
	pace *time.Duration
}

// judge reads the webhook's health from an attempt's result and the delivery's new status.
func judge(h store.Health, res result, status string, now time.Time) verdict {
	var v verdict
	switch Classify(res.attempt.Status, res.err) {
	case Success:
		v.success = true
		return v
	case Stop:
		v.gone = true
		return v
	}
	v.failure, v.ended = true, status == store.DeliveryFailure
	if s := res.attempt.Status; s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable {
		if res.hasRetryAfter {
			until := now.Add(min(res.retryAfter, MaxPostpone))
			v.postpone = &until
		} else {
			pace := min(max(2*time.Duration(h.PaceMS)*time.Millisecond, MinPace), MaxPace)
			until := now.Add(pace)
			v.postpone, v.pace = &until, &pace
		}
	}
	return v
}

// writes tells whether applying v to a webhook in the state in writes anything: all but the
// success of a webhook that was not troubled do.
func (v verdict) writes(in store.AttemptInput) bool { return !v.success || in.Troubled() }

// apply writes a verdict in the transaction that records the attempt, disabling the webhook
// when it is gone or has failed long enough. It returns the reason it disabled it ("" when it
// did not).
func (e *Engine) apply(tx *gorm.DB, in store.AttemptInput, v verdict, now time.Time) (string, error) {
	now = now.UTC()
	switch {
	case v.success:
		if in.Troubled() {
			return "", store.RecordSuccess(tx, in.WebhookID, MinPace)
		}
		return "", nil
	case v.gone:
		reason := "the endpoint answered 410 Gone at " + now.Format(time.RFC3339)
		disabled, err := store.DisableWebhook(tx, in.Family, in.WebhookID, reason)
		if !disabled {
			reason = ""
		}
		return reason, err
	}
	if v.postpone != nil {
		if err := store.Postpone(tx, in.WebhookID, *v.postpone, v.pace); err != nil {
			return "", err
		}
	}
	sustained, err := store.RecordFailure(tx, in.WebhookID, now, v.ended,
		store.HealthPolicy{DisableAfter: e.cfg.DisableAfter, MinDeliveries: DisableMinDeliveries})
	if err != nil || !sustained {
		return "", err
	}
	since := now
	if in.FailingSince != nil {
		since = *in.FailingSince
	}
	failed := in.FailedDeliveries
	if v.ended {
		failed++
	}
	reason := fmt.Sprintf("every attempt failed from %s to %s (%d deliveries failed)",
		since.UTC().Format(time.RFC3339), now.Format(time.RFC3339), failed)
	disabled, err := store.DisableWebhook(tx, in.Family, in.WebhookID, reason)
	if !disabled {
		reason = ""
	}
	return reason, err
}

// Job priorities (River fetches the lower numbers first).
const (
	priorityNormal    = 1
	prioritySaturated = 4
)

// priority is the priority of a new attempt of a webhook: lowered while the webhook has its
// bound of attempts in flight in this process, so that its backlog is fetched (and snoozed)
// after the other webhooks' attempts rather than ahead of them.
func (e *Engine) priority(webhookID string) int {
	if e.limit.saturated(webhookID) {
		return prioritySaturated
	}
	return priorityNormal
}

// jitter lengthens a wait by up to a tenth plus 250 ms, so that attempts postponed to one time
// do not all come back at once.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d/10+250*time.Millisecond)))
}
