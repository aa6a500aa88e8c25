package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/webhookd/webhookd/internal/batch"
)

// Dialect names the SQL database behind a Store.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// ErrNotFound is returned (wrapped) when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Config says which database to open.
type Config struct {
	// DatabaseURL is a postgres:// (or postgresql://) URL; empty selects SQLite.
	DatabaseURL string
	// SQLitePath is the SQLite database file used when DatabaseURL is empty.
	SQLitePath string
	// PublicURL is this service's public base URL, the `host` of Kheops requests.
	PublicURL string
	// KheopsMaxAttempts and FacilityMaxAttempts bound the attempts of each delivery of the
	// two families (the retry schedules' length plus one).
	KheopsMaxAttempts   int
	FacilityMaxAttempts int
	// NewSeriesDelay is how long a study must be quiet in an album before new_series fires.
	NewSeriesDelay time.Duration
	// MaxConns bounds the connection pool (default 25 on PostgreSQL, 4 on SQLite). Idle
	// connections are kept up to the same number: a new PostgreSQL session plans its queries
	// cold, and database/sql's default of 2 idle connections made most requests under load open
	// one.
	MaxConns int
	// DeliveriesCreated, when set, is told how many deliveries of a family and event a
	// transaction created, once it has committed (for metrics).
	DeliveriesCreated func(family, event string, n int)
	// NewID draws the ids of albums and webhooks; nil means RandomString. (Tests make it
	// repeat itself to check that an id drawn twice is drawn again.)
	NewID func(n int) string
}

// Store is the handle on the database. It is safe for concurrent use.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	enq     Enqueuer
	cfg     Config
	// recorder records the outcomes of attempts finishing together in one transaction.
	recorder *batch.Batcher[AttemptOutcome, bool]
	// loader reads the inputs of attempts starting together in one statement.
	loader *batch.Batcher[string, AttemptInput]
	// publisher publishes the events published at the same time in one transaction.
	publisher *batch.Batcher[PublishInput, PublishResult]
}

// Open connects to the database described by cfg. It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	gcfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		TranslateError:         true,
	}
	var (
		db      *gorm.DB
		err     error
		dialect Dialect
	)
	switch {
	case strings.HasPrefix(cfg.DatabaseURL, "postgres://"), strings.HasPrefix(cfg.DatabaseURL, "postgresql://"):
		dialect = Postgres
		db, err = gorm.Open(postgres.Open(cfg.DatabaseURL), gcfg)
	case cfg.DatabaseURL == "":
		dialect = SQLite
		if dir := filepath.Dir(cfg.SQLitePath); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		db, err = gorm.Open(sqlite.Open(sqliteDSN(cfg.SQLitePath)), gcfg)
	default:
		return nil, fmt.Errorf("DATABASE_URL must be a postgres:// URL (or empty for SQLite)")
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("database handle: %w", err)
	}
	if cfg.MaxConns <= 0 {
		// One writer at a time is SQLite's model; a small pool keeps readers concurrent
		// while busy_timeout and BEGIN IMMEDIATE serialise the writers without errors.
		cfg.MaxConns = 4
		if dialect == Postgres {
			cfg.MaxConns = 25
		}
	}
	sqlDB.SetMaxOpenConns(cfg.MaxConns)
	sqlDB.SetMaxIdleConns(cfg.MaxConns)
	if dialect == Postgres {
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	if cfg.KheopsMaxAttempts < 1 {
		cfg.KheopsMaxAttempts = 5
	}
	if cfg.FacilityMaxAttempts < 1 {
		cfg.FacilityMaxAttempts = 4
	}
	if cfg.NewID == nil {
		cfg.NewID = RandomString
	}
	if cfg.NewSeriesDelay <= 0 {
		cfg.NewSeriesDelay = 30 * time.Second
	}
	s := &Store{db: db, dialect: dialect, enq: noEnqueuer{}, cfg: cfg}
	s.recorder, s.loader, s.publisher = s.newRecorder(), s.newLoader(), s.newPublisher()
	if err := s.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return s, nil
}

func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// Dialect tells which database the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// DatabaseURL returns the PostgreSQL URL the store was opened with ("" on SQLite).
func (s *Store) DatabaseURL() string { return s.cfg.DatabaseURL }

// DB returns the GORM handle, for packages that share the database (the delivery engine).
func (s *Store) DB() *gorm.DB { return s.db }

// SQLDB returns the database/sql pool under the GORM handle.
func (s *Store) SQLDB() *sql.DB {
	sqlDB, _ := s.db.DB() // cannot fail: Open checked it
	return sqlDB
}

// SetEnqueuer installs the delivery engine's hook, called inside the transaction that creates
// deliveries. Call it once, before serving.
func (s *Store) SetEnqueuer(e Enqueuer) { s.enq = e }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.SQLDB().PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.SQLDB().Close() }

// transaction runs fn in a transaction bound to ctx. On SQLite every transaction begins
// IMMEDIATE (see sqliteDSN): it takes the write lock at once, waiting up to busy_timeout, so one
// that reads before it writes cannot fail with SQLITE_BUSY half-way. Once a transaction that
// enqueued deliveries has committed, the engine is told (Enqueuer.DeliveriesCommitted).
func (s *Store) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	note := &txNote{}
	err := s.db.WithContext(context.WithValue(ctx, txNoteKey{}, note)).Transaction(fn)
	for _, after := range note.after {
		after(err == nil)
	}
	if err == nil && note.enqueued {
		s.enq.DeliveriesCommitted()
		if s.cfg.DeliveriesCreated != nil {
			for k, n := range note.created {
				s.cfg.DeliveriesCreated(k.family, k.event, n)
			}
		}
	}
	return err
}

// txNote records what a transaction did that matters once it has committed.
type txNote struct {
	enqueued bool
	// created counts the deliveries created by family and event.
	created map[familyEvent]int
	// after run once the transaction has ended, told whether it committed (OnCommit).
	after []func(committed bool)
}

// OnCommit registers fn to run once the transaction of ctx has ended (ctx is the context an
// Enqueuer is called with), told whether it committed. It reports false, registering nothing,
// when ctx belongs to no transaction of the store.
func OnCommit(ctx context.Context, fn func(committed bool)) bool {
	note, ok := ctx.Value(txNoteKey{}).(*txNote)
	if ok {
		note.after = append(note.after, fn)
	}
	return ok
}

type familyEvent struct{ family, event string }

type txNoteKey struct{}

// noteEnqueued marks tx's transaction as having enqueued deliveries, and counts them.
func noteEnqueued(tx *gorm.DB, rows []Delivery) {
	if note, ok := tx.Statement.Context.Value(txNoteKey{}).(*txNote); ok {
		note.enqueued = true
		if note.created == nil {
			note.created = make(map[familyEvent]int)
		}
		for _, r := range rows {
			note.created[familyEvent{r.Family, r.Event}]++
		}
	}
}

// SQLTx returns the database/sql transaction under a GORM transaction, so that other libraries
// (the job queue) can write in the same transaction.
func SQLTx(tx *gorm.DB) (*sql.Tx, error) {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("not in a transaction (%T)", tx.Statement.ConnPool)
	}
	return sqlTx, nil
}
