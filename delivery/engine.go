package delivery

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

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
	// Workers is how many attempts run at once in this process (default 20).
	Workers int
	// PollInterval is how often idle workers look for due jobs (default 1 s).
	PollInterval time.Duration
	// RescueAfter is how long an attempt may stay running before it is considered lost (its
	// process died) and made again; default Timeout + 25 s. River checks for lost jobs every
	// 30 s, so a lost attempt is made again within about RescueAfter + 40 s.
	RescueAfter time.Duration
	// Logger receives the engine's logs.
	Logger *slog.Logger
}

// Engine delivers webhooks. It implements store.Enqueuer.
type Engine struct {
	cfg    EngineConfig
	store  *store.Store
	driver riverdriver.Driver[*sql.Tx]
	client *river.Client[*sql.Tx]
	http   *http.Client
	log    *slog.Logger
}

var _ store.Enqueuer = (*Engine)(nil)

// NewEngine builds an engine on the store's database. Call Migrate, then Start.
func NewEngine(st *store.Store, cfg EngineConfig) (*Engine, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 20
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = cfg.Timeout + 25*time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Kheops.Delays) == 0 || len(cfg.Facility.Delays) == 0 {
		return nil, errors.New("delivery: both retry policies need at least one delay")
	}
	e := &Engine{cfg: cfg, store: st, log: cfg.Logger}
	switch st.Dialect() {
	case store.Postgres:
		e.driver = riverdatabasesql.New(st.SQLDB())
	case store.SQLite:
		e.driver = riversqlite.New(st.SQLDB())
	default:
		return nil, fmt.Errorf("delivery: no queue driver for %s", st.Dialect())
	}
	e.http = NewHTTPClient(ClientConfig{Timeout: cfg.Timeout, Policy: cfg.Policy, TLSConfig: cfg.TLSConfig, UserAgent: cfg.UserAgent})

	workers := river.NewWorkers()
	river.AddWorker(workers, &attemptWorker{engine: e})
	river.AddWorker(workers, &seriesWorker{engine: e})
	river.AddWorker(workers, &purgeWorker{engine: e})
	client, err := river.NewClient(e.driver, &river.Config{
		Queues:            map[string]river.QueueConfig{queueName: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		FetchPollInterval: cfg.PollInterval,
		FetchCooldown:     min(100*time.Millisecond, cfg.PollInterval),
		// A job outlives its request by a margin for recording it; it is considered lost only
		// after that (River requires RescueStuckJobsAfter > JobTimeout).
		JobTimeout:           cfg.Timeout + 10*time.Second,
		RescueStuckJobsAfter: max(cfg.RescueAfter, cfg.Timeout+11*time.Second),
		Logger:               cfg.Logger.With("component", "river"),
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
				return purgeArgs{}, nil
			}, &river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: queue client: %w", err)
	}
	e.client = client
	return e, nil
}

// Migrate creates or upgrades the queue's tables.
func (e *Engine) Migrate(ctx context.Context) error {
	m, err := rivermigrate.New(e.driver, nil)
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
	return nil
}

// Stop waits for the running attempts to finish (bounded by ctx, after which they are
// cancelled and will be made again later).
func (e *Engine) Stop(ctx context.Context) error {
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
func (e *Engine) EnqueueDeliveries(ctx context.Context, tx *sql.Tx, ids []string) error {
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: attemptArgs{DeliveryID: id, Attempt: 1}}
	}
	if _, err := e.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("delivery: enqueue: %w", err)
	}
	return nil
}

// EnqueueResends schedules one extra attempt of each delivery now, in the caller's transaction.
func (e *Engine) EnqueueResends(ctx context.Context, tx *sql.Tx, ids []string) error {
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: attemptArgs{DeliveryID: id, Resend: true}}
	}
	if _, err := e.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("delivery: enqueue resends: %w", err)
	}
	return nil
}

// ScheduleSeriesFlush schedules the coalesced new_series notification of a study.
func (e *Engine) ScheduleSeriesFlush(ctx context.Context, tx *sql.Tx, albumID, studyUID string, at time.Time) error {
	_, err := e.client.InsertTx(ctx, tx, seriesArgs{AlbumID: albumID, StudyUID: studyUID}, &river.InsertOpts{ScheduledAt: at})
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
