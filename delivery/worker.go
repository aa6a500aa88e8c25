package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/webhookd/webhookd/store"
)

// attemptArgs is the job of one attempt of one delivery.
type attemptArgs struct {
	DeliveryID string `json:"delivery_id"`
	// WebhookID is the delivery's webhook (empty in jobs queued before it was added): an
	// attempt over the webhook's bound is snoozed without reading the database.
	WebhookID string `json:"webhook_id,omitempty"`
	// Attempt is the attempt's number; a resend's is the one after those recorded when it runs.
	Attempt int `json:"attempt"`
	// Resend marks the extra attempt asked by resend or recover (store.Delivery.Resend).
	Resend bool `json:"resend,omitempty"`
}

// Kind names the job type.
func (attemptArgs) Kind() string { return "webhookd_attempt" }

// InsertOpts puts the job in webhookd's queue. River's own retries of this job only happen
// when an attempt could not even be recorded (the process died, the database failed).
func (attemptArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, MaxAttempts: 25}
}

type attemptWorker struct {
	river.WorkerDefaults[attemptArgs]
	engine *Engine
}

// NextRetry re-runs an attempt that could not be recorded soon, without the exponential
// backoff River uses by default.
func (w *attemptWorker) NextRetry(job *river.Job[attemptArgs]) time.Time {
	return time.Now().Add(time.Duration(min(job.Attempt, 12)) * 5 * time.Second)
}

func (w *attemptWorker) Work(ctx context.Context, job *river.Job[attemptArgs]) error {
	ctx, span := w.engine.startSpan(ctx, "webhook attempt", job.Metadata, attemptAttrs(job.Args.DeliveryID, job.Args.Attempt)...)
	err := w.engine.attempt(ctx, job.Args)
	endSpan(span, err)
	return err
}

// attemptAttrs are the attributes of an attempt's span.
func attemptAttrs(deliveryID string, n int) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("webhookd.delivery.id", deliveryID), attribute.Int("webhookd.attempt", n)}
}

// attempt makes an attempt of a delivery, records it, and schedules the next one when the
// retry policy says so, all recorded in one transaction with what the answer says of the
// webhook's health. An attempt that may not be made yet (the webhook is postponed, paced, or
// has its bound of attempts in flight) is snoozed: River runs it again later, without counting
// it.
func (e *Engine) attempt(ctx context.Context, args attemptArgs) error {
	id, n := args.DeliveryID, args.Attempt
	// The webhook's bound of attempts in flight comes first: over it, the job is snoozed
	// without a read (jobs queued before args carried the webhook are bounded after it).
	var release func(took time.Duration)
	defer func() {
		if release != nil {
			release(0) // returned before making the request
		}
	}()
	if args.WebhookID != "" {
		var wait time.Duration
		if release, wait = e.limit.take(ctx, args.WebhookID, time.Now()); release == nil {
			return river.JobSnooze(wait)
		}
	}
	in, err := e.store.LoadAttempt(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the webhook was deleted with its deliveries
	}
	if err != nil {
		return err
	}
	if args.Resend {
		if !in.Resend {
			return nil // made and recorded already (a re-run after a crash)
		}
		n = in.Recorded + 1
	} else if in.Recorded >= n || in.Status != store.DeliveryPending {
		return nil // this attempt was already made and recorded (a re-run after a crash)
	}
	if in.HookExists && !in.HookEnabled && !in.IsManual && !args.Resend {
		// Disabled while it waited: a disabled webhook is sent nothing but manual triggers and
		// resends.
		return e.store.AbandonDelivery(ctx, id)
	}
	now := time.Now()
	if release == nil {
		var wait time.Duration
		if release, wait = e.limit.take(ctx, in.WebhookID, now); release == nil {
			return river.JobSnooze(wait)
		}
	}
	if in.NotBefore != nil && in.NotBefore.After(now) {
		return river.JobSnooze(jitter(in.NotBefore.Sub(now)))
	}
	if in.PaceMS > 0 {
		pace := time.Duration(in.PaceMS) * time.Millisecond
		ok, err := e.store.ReservePace(ctx, in.WebhookID, now, pace)
		if err != nil {
			return err
		}
		if !ok {
			return river.JobSnooze(jitter(pace))
		}
	}
	take := release
	release = nil
	return e.sendAndRecord(ctx, in, n, args.Resend, 0, take)
}

// sendAndRecord sends attempt n of in's delivery and records it, with what follows (the next attempt,
// the webhook's health); release gives the webhook's slot back once the request is done. job is
// the River job to delete with the recording (direct dispatch), or 0.
func (e *Engine) sendAndRecord(ctx context.Context, in store.AttemptInput, n int, resend bool, job int64, release func(took time.Duration)) error {
	id := in.ID
	start := time.Now()
	res := e.send(ctx, in.Delivery, n)
	// The endpoint is done with this attempt: its slot goes back before the attempt is
	// recorded, so the bound counts requests in flight, not the recording's wait for its batch.
	release(time.Since(start))
	if ctx.Err() != nil {
		// Shutting down (or the job ran out of time): nothing is recorded, River runs the
		// attempt again.
		return ctx.Err()
	}
	status, next := decide(e.policy(in.Family), n, in.MaxAttempts, res, rand.Float64)
	v := judge(in.Health, res, status, time.Now())
	var disabled string
	record := func(tx *gorm.DB) error {
		if status == store.DeliveryPending {
			sqlTx, err := store.SQLTx(tx)
			if err != nil {
				return err
			}
			if _, err := e.client.InsertTx(ctx, sqlTx, attemptArgs{DeliveryID: id, WebhookID: in.WebhookID, Attempt: n + 1},
				e.withTrace(ctx, &river.InsertOpts{ScheduledAt: time.Now().Add(next), Priority: e.priority(in.WebhookID)})); err != nil {
				return err
			}
		}
		var err error
		disabled, err = e.apply(tx, in, v, time.Now())
		return err
	}
	o := store.AttemptOutcome{Attempt: res.attempt, Status: status, Resend: resend, Job: job}
	if in.Family == store.FamilyKheops {
		o.AlbumWebhookID = in.WebhookID
	}
	if status == store.DeliveryPending || v.writes(in) {
		// Without a Next (a success of a healthy webhook), outcomes are recorded without a
		// transaction of their own on PostgreSQL (see store.RecordAttempt).
		o.Next = record
	}
	if _, err := e.store.RecordAttempt(ctx, o); err != nil {
		return err
	}
	e.logAttempt(ctx, in.Delivery, n, res, status, next)
	if disabled != "" {
		e.log.WarnContext(ctx, "webhook disabled", "webhook", in.WebhookID, "family", in.Family, "reason", disabled)
	}
	return nil
}

// logAttempt logs a recorded attempt, a failed one at WARN with what an operator needs, and
// tells the observer.
func (e *Engine) logAttempt(ctx context.Context, d store.Delivery, n int, res result, status string, next time.Duration) {
	class := OutcomeClass(res.attempt.Status, res.err)
	e.cfg.Observer.AttemptDone(d.Family, class, time.Duration(res.attempt.DurationMS)*time.Millisecond)
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("webhookd.webhook.id", d.WebhookID),
		attribute.String("webhookd.family", d.Family), attribute.String("webhookd.event", d.Event),
		attribute.String("server.address", targetHost(d.URL)), attribute.Int("http.response.status_code", res.attempt.Status),
		attribute.String("webhookd.outcome", class))
	attrs := []any{"delivery", d.ID, "webhook", d.WebhookID, "family", d.Family, "event", d.Event,
		"target_host", targetHost(d.URL), "attempt", fmt.Sprintf("%d/%d", n, d.MaxAttempts), "outcome", class,
		"duration_ms", res.attempt.DurationMS}
	if res.attempt.Status > 0 {
		attrs = append(attrs, "status", res.attempt.Status)
	}
	if class == ClassSuccess {
		e.log.InfoContext(ctx, "webhook delivered", attrs...)
		return
	}
	if res.attempt.Error != "" {
		attrs = append(attrs, "error", res.attempt.Error)
	}
	if status == store.DeliveryPending {
		attrs = append(attrs, "next_retry_in", next.Round(time.Second).String(), "next_retry_at", time.Now().Add(next).UTC().Format(time.RFC3339))
		e.log.WarnContext(ctx, "webhook attempt failed, will retry", attrs...)
		return
	}
	e.log.WarnContext(ctx, "webhook attempt failed, giving up", attrs...)
}

// decide turns the result of attempt n into the delivery's status and, while it stays pending,
// the delay before attempt n+1.
func decide(p RetryPolicy, n, maxAttempts int, res result, rnd func() float64) (string, time.Duration) {
	switch Classify(res.attempt.Status, res.err) {
	case Success:
		return store.DeliverySuccess, 0
	case Stop:
		return store.DeliveryFailure, 0
	}
	delay, ok := p.NextDelay(n, res.retryAfter, rnd)
	if !ok || n >= maxAttempts {
		return store.DeliveryFailure, 0
	}
	return store.DeliveryPending, delay
}

// seriesArgs is the job that sends the coalesced new_series notification of a study.
type seriesArgs struct {
	AlbumID  string `json:"album_id"`
	StudyUID string `json:"study_uid"`
}

// Kind names the job type.
func (seriesArgs) Kind() string { return "webhookd_new_series" }

// InsertOpts puts the job in webhookd's queue.
func (seriesArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: queueName} }

type seriesWorker struct {
	river.WorkerDefaults[seriesArgs]
	engine *Engine
}

func (w *seriesWorker) Work(ctx context.Context, job *river.Job[seriesArgs]) error {
	ctx, span := w.engine.startSpan(ctx, "new_series flush", job.Metadata, attribute.String("webhookd.album.id", job.Args.AlbumID))
	_, err := w.engine.store.FlushNewSeries(ctx, job.Args.AlbumID, job.Args.StudyUID, time.Now())
	endSpan(span, err)
	return err
}

// purgeArgs is the periodic job that deletes facility and user deliveries past LogRetention.
type purgeArgs struct{}

// Kind names the job type.
func (purgeArgs) Kind() string { return "webhookd_purge_logs" }

// InsertOpts puts the job in webhookd's queue.
func (purgeArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: queueName} }

type purgeWorker struct {
	river.WorkerDefaults[purgeArgs]
	engine *Engine
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[purgeArgs]) error {
	n, err := w.engine.store.PurgeLogs(ctx, time.Now().Add(-LogRetention))
	if err == nil && n > 0 {
		w.engine.log.InfoContext(ctx, "purged old webhook logs", "deliveries", n)
	}
	return err
}
