package delivery

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"

	"github.com/webhookd/webhookd/store"
)

// queueName is the River queue of every webhookd job.
const queueName = "webhooks"

// LogRetention is how long facility and user deliveries are kept for GET /logs.
const LogRetention = 14 * 24 * time.Hour

// EngineConfig configures an Engine.
type EngineConfig struct {
	// UserAgent is sent with every request, e.g. "webhookd/0.1.0".
	UserAgent string
	// Timeout bounds one request (default 15 s).
	Timeout time.Duration
	// Policy decides which targets may be dialled.
	Policy TargetPolicy
	// TLSConfig overrides the TLS settings (tests trust their own CA with it).
	TLSConfig *tls.Config
	// Kheops and Facility are the retry policies of the two families (facility covers user
	// webhooks too).
	Kheops, Facility RetryPolicy
	// Workers is how many attempts run at once in this process (default DefaultWorkers).
	Workers int
	// PollInterval is how often the engine looks for jobs that came due without a notification:
	// retries, and work left by another process (default DefaultPollInterval). A retry starts
	// within PollInterval plus River's poll jitter (10 %, at least 10 ms) of its time.
	PollInterval time.Duration
	// FetchCooldown is the shortest time between two fetches of jobs (default
	// DefaultFetchCooldown): new jobs wait at most this long, and a process starts at most
	// Workers / FetchCooldown attempts a second.
	FetchCooldown time.Duration
	// RescueAfter is how long an attempt may stay running before it is considered lost (its
	// process died) and made again; default Timeout + 25 s. River checks for lost jobs every
	// 30 s, so a lost attempt is made again within about RescueAfter + 40 s.
	RescueAfter time.Duration
	// WebhookConcurrency bounds the attempts in flight per webhook in this process (default
	// DefaultWebhookConcurrency; negative for no bound).
	WebhookConcurrency int
	// FastWebhookConcurrency bounds them instead while the webhook's attempts take under
	// 100 ms on average (default DefaultFastWebhookConcurrency; never below
	// WebhookConcurrency).
	FastWebhookConcurrency int
	// DirectQueue bounds the first attempts made by direct dispatch (see direct.go) waiting or
	// in flight at once, on PostgreSQL (default DefaultDirectQueue, at most MaxDirectQueue;
	// negative turns direct dispatch off: every attempt goes through River).
	DirectQueue int
	// DisableAfter is how long every attempt of a webhook may fail (with at least
	// DisableMinDeliveries deliveries ended failed) before it is disabled (default
	// DefaultDisableAfter).
	DisableAfter time.Duration
	// Logger receives the engine's logs.
	Logger *slog.Logger
	// Observer is told of every attempt (metrics); nil observes nothing.
	Observer Observer
	// Tracer, when set, gets a span per attempt (OpenTelemetry), child of the span of the
	// request or job that queued it; nil traces nothing.
	Tracer trace.TracerProvider
}

// Defaults of the engine's concurrency and polling, measured on a 2-core machine to deliver
// at River's own pace (see the README's performance table).
const (
	DefaultWorkers       = 400
	DefaultPollInterval  = 500 * time.Millisecond
	DefaultFetchCooldown = 10 * time.Millisecond
)

// Engine delivers webhooks. It implements store.Enqueuer.
type Engine struct {
	cfg    EngineConfig
	store  *store.Store
	queue  queueDriver
	client *river.Client[*sql.Tx]
	http   *http.Client
	log    *slog.Logger
	// tracer is nil when tracing is off.
	tracer trace.Tracer
	// started is set by Start (Ready reads it).
	started atomic.Bool
	// limit bounds the attempts in flight per webhook.
	limit *limiter
	// direct queues the first attempts made without River (nil when off: SQLite, DirectQueue < 0).
	direct *direct
	// cancelDirect cancels the attempts of direct dispatch (Stop).
	cancelDirect context.CancelFunc
}

var _ store.Enqueuer = (*Engine)(nil)

// NewEngine builds an engine on the store's database. Call Migrate, then Start.
func NewEngine(st *store.Store, cfg EngineConfig) (*Engine, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.FetchCooldown <= 0 {
		cfg.FetchCooldown = DefaultFetchCooldown
	}
	cfg.FetchCooldown = min(cfg.FetchCooldown, cfg.PollInterval)
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = cfg.Timeout + 25*time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.WebhookConcurrency == 0 {
		cfg.WebhookConcurrency = DefaultWebhookConcurrency
	}
	if cfg.FastWebhookConcurrency == 0 {
		cfg.FastWebhookConcurrency = DefaultFastWebhookConcurrency
	}
	if cfg.DirectQueue == 0 {
		cfg.DirectQueue = DefaultDirectQueue
	}
	if cfg.DirectQueue > MaxDirectQueue {
		return nil, fmt.Errorf("delivery: DirectQueue %d is over %d", cfg.DirectQueue, MaxDirectQueue)
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = DefaultDisableAfter
	}
	if len(cfg.Kheops.Delays) == 0 || len(cfg.Facility.Delays) == 0 {
		return nil, errors.New("delivery: both retry policies need at least one delay")
	}
	queue, err := newQueueDriver(context.Background(), st)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, store: st, queue: queue, log: cfg.Logger, limit: newLimiter(cfg.WebhookConcurrency, cfg.FastWebhookConcurrency)}
	if st.Dialect() == store.Postgres && cfg.DirectQueue > 0 {
		e.direct = newDirect(cfg.DirectQueue)
	}
	if cfg.Tracer != nil {
		e.tracer = cfg.Tracer.Tracer("github.com/webhookd/webhookd/delivery")
	}
	e.http = NewHTTPClient(ClientConfig{Timeout: cfg.Timeout, Policy: cfg.Policy, TLSConfig: cfg.TLSConfig, UserAgent: cfg.UserAgent})

	workers := river.NewWorkers()
	river.AddWorker(workers, &attemptWorker{engine: e})
	river.AddWorker(workers, &seriesWorker{engine: e})
	river.AddWorker(workers, &purgeWorker{engine: e})
	client, err := river.NewClient(queue.driver, &river.Config{
		Queues:            map[string]river.QueueConfig{queueName: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		FetchPollInterval: cfg.PollInterval,
		FetchCooldown:     cfg.FetchCooldown,
		Hooks:             []rivertype.Hook{dueOnTime()},
		// A job outlives its request by a margin for recording it; it is considered lost only
		// after that (River requires RescueStuckJobsAfter > JobTimeout).
		JobTimeout:           cfg.Timeout + 10*time.Second,
		RescueStuckJobsAfter: e.rescueAfter(),
		Logger:               cfg.Logger.With("component", "river"),
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
				return purgeArgs{}, nil
			}, &river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		queue.close()
		return nil, fmt.Errorf("delivery: queue client: %w", err)
	}
	e.client = client
	return e, nil
}

// rescueAfter is how long a job may run before River's rescuer makes its attempt again (River
// requires more than JobTimeout).
func (e *Engine) rescueAfter() time.Duration {
	return max(e.cfg.RescueAfter, e.cfg.Timeout+11*time.Second)
}

// Migrate creates or upgrades the queue's tables.
func (e *Engine) Migrate(ctx context.Context) error {
	m, err := rivermigrate.New(e.queue.driver, nil)
	if err != nil {
		return fmt.Errorf("delivery: queue migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("delivery: migrate queue tables: %w", err)
	}
	return nil
}

// Start starts working jobs in the background until Stop.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.client.Start(ctx); err != nil {
		return fmt.Errorf("delivery: start: %w", err)
	}
	e.startDirect(ctx)
	e.started.Store(true)
	return nil
}

// Stop waits for the running attempts to finish (bounded by ctx, after which they are
// cancelled and will be made again later), then releases the engine's connections.
func (e *Engine) Stop(ctx context.Context) error {
	defer e.queue.close()
	e.stopDirect(ctx)
	err := e.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = e.client.StopAndCancel(cctx)
	}
	if err != nil {
		return fmt.Errorf("delivery: stop: %w", err)
	}
	return nil
}

// EnqueueDeliveries schedules the first attempt of each delivery, in the caller's transaction.
// It uses River's fast insert, which returns no job rows (the jobs are not unique, nothing reads
// them back): an event fanning out to many webhooks inserts their jobs in one statement.
//
// On PostgreSQL, the first attempts of deliveries to healthy webhooks are made by this process
// once the transaction commits (direct dispatch, see direct.go), as many as its queue takes.
func (e *Engine) EnqueueDeliveries(ctx context.Context, tx *sql.Tx, refs []store.DeliveryRef) error {
	refs, err := e.enqueueDirect(ctx, tx, refs)
	if err != nil || len(refs) == 0 {
		return err
	}
	params := make([]river.InsertManyParams, len(refs))
	for i, r := range refs {
		params[i] = e.firstAttempt(ctx, r)
	}
	if _, err := e.client.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("delivery: enqueue: %w", err)
	}
	return nil
}

// firstAttempt is the job of a delivery's first attempt. It carries the trace of the ref's own
// context when it has one (events published together are enqueued together), else ctx's.
func (e *Engine) firstAttempt(ctx context.Context, r store.DeliveryRef) river.InsertManyParams {
	if r.Ctx != nil {
		ctx = r.Ctx
	}
	return river.InsertManyParams{Args: attemptArgs{DeliveryID: r.ID, WebhookID: r.WebhookID, Attempt: 1},
		InsertOpts: e.withTrace(ctx, &river.InsertOpts{Priority: e.priority(r.WebhookID)})}
}

// EnqueueResends schedules one extra attempt of each delivery now, in the caller's transaction.
func (e *Engine) EnqueueResends(ctx context.Context, tx *sql.Tx, refs []store.DeliveryRef) error {
	params := make([]river.InsertManyParams, len(refs))
	for i, r := range refs {
		params[i] = river.InsertManyParams{Args: attemptArgs{DeliveryID: r.ID, WebhookID: r.WebhookID, Resend: true},
			InsertOpts: e.withTrace(ctx, &river.InsertOpts{Priority: e.priority(r.WebhookID)})}
	}
	if _, err := e.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("delivery: enqueue resends: %w", err)
	}
	return nil
}

// DeliveriesCommitted starts the first attempts of deliveries that were just committed, without
// waiting for the next poll. PostgreSQL's NOTIFY does it by itself; on SQLite it wakes the engine.
func (e *Engine) DeliveriesCommitted() {
	if e.queue.wake != nil {
		e.queue.wake()
	}
}

// ScheduleSeriesFlush schedules the coalesced new_series notification of a study.
func (e *Engine) ScheduleSeriesFlush(ctx context.Context, tx *sql.Tx, albumID, studyUID string, at time.Time) error {
	_, err := e.client.InsertTx(ctx, tx, seriesArgs{AlbumID: albumID, StudyUID: studyUID}, e.withTrace(ctx, &river.InsertOpts{ScheduledAt: at}))
	if err != nil {
		return fmt.Errorf("delivery: schedule new_series: %w", err)
	}
	return nil
}

func (e *Engine) policy(family string) RetryPolicy {
	if family == store.FamilyKheops {
		return e.cfg.Kheops
	}
	return e.cfg.Facility
}
