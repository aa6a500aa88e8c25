package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// migration is one versioned step of the schema. Steps are append-only: a released step is
// never edited, a change is a new step, so an existing database is upgraded in place.
type migration struct {
	version int
	name    string
	sql     string
	// only, when set, restricts the step's SQL to that dialect (it is recorded as applied on
	// the other, so versions stay the same on both).
	only Dialect
}

// migrations lists every schema step in order. The SQL is portable between PostgreSQL and
// SQLite; TIMESTAMPTZ is spelled DATETIME on SQLite (see dialectSQL).
var migrations = []migration{
	{1, "users, albums, album webhooks and deliveries", `
CREATE TABLE users (
	sub        TEXT PRIMARY KEY,
	email      TEXT NOT NULL DEFAULT '',
	name       TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_email ON users (email);

CREATE TABLE albums (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE album_members (
	album_id   TEXT NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
	user_sub   TEXT NOT NULL REFERENCES users (sub),
	is_admin   BOOLEAN NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (album_id, user_sub)
);
CREATE INDEX album_members_user ON album_members (user_sub);

CREATE TABLE album_series (
	album_id   TEXT NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
	study_uid  TEXT NOT NULL,
	series_uid TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (album_id, study_uid, series_uid)
);

CREATE TABLE album_webhooks (
	id         TEXT PRIMARY KEY,
	album_id   TEXT NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
	url        TEXT NOT NULL,
	name       TEXT NOT NULL,
	secret     TEXT,
	events     INTEGER NOT NULL,
	enabled    BOOLEAN NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX album_webhooks_album_created ON album_webhooks (album_id, created_at);

CREATE TABLE deliveries (
	id           TEXT PRIMARY KEY,
	family       TEXT NOT NULL,
	webhook_id   TEXT NOT NULL,
	event        TEXT NOT NULL,
	is_manual    BOOLEAN NOT NULL DEFAULT FALSE,
	url          TEXT NOT NULL,
	secrets      TEXT NOT NULL DEFAULT '[]',
	payload      TEXT NOT NULL,
	user_sub     TEXT,
	study_uid    TEXT,
	series_uids  TEXT,
	facility_id  TEXT,
	client_id    TEXT,
	event_id     TEXT,
	status       TEXT NOT NULL DEFAULT 'pending',
	max_attempts INTEGER NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX deliveries_webhook_created ON deliveries (webhook_id, created_at);
CREATE INDEX deliveries_client_created ON deliveries (client_id, created_at);

CREATE TABLE delivery_attempts (
	delivery_id   TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	attempt       INTEGER NOT NULL,
	status        INTEGER NOT NULL,
	error         TEXT NOT NULL DEFAULT '',
	duration_ms   BIGINT NOT NULL,
	response_body TEXT NOT NULL DEFAULT '',
	created_at    TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (delivery_id, attempt)
);
`, ""},
	{2, "facility and user webhooks", facilitySchema, ""},
	{3, "delivery engine: pending series, events, purge index", deliverySchema, ""},
	{4, "album webhooks count their triggers", `
ALTER TABLE album_webhooks ADD COLUMN number_of_triggers INTEGER NOT NULL DEFAULT 0;
UPDATE album_webhooks SET number_of_triggers =
	(SELECT COUNT(*) FROM deliveries WHERE deliveries.webhook_id = album_webhooks.id);
`, ""},
	{5, "recovery and endpoint health", healthSchema, ""},
	{6, "a webhook's deliveries are read in (created_at, id) order through the index", `
CREATE INDEX deliveries_webhook_created_id ON deliveries (webhook_id, created_at, id);
DROP INDEX deliveries_webhook_created;
`, ""},
	// Every delivery is updated at least once (pending, then its outcome). With full pages the
	// new row version lands on another page and each of the table's indexes gets an entry for
	// it; with room left on the page the update is HOT (heap-only: no index is touched, and the
	// old version is pruned from the page). In a burst of 20,000 deliveries, 3 % of the
	// updates were HOT with full pages, 52-54 % at fillfactor 70, 100 % at 50, and the table took
	// no more pages at 50 than at 70 (1,673 vs 1,747): the versions that moved took new pages.
	// Only pages written from now on keep the room. SQLite has no such setting.
	{7, "deliveries keep half of each page for their status updates (HOT updates)", `
ALTER TABLE deliveries SET (fillfactor = 50);
`, Postgres},
	// A list of 100 album webhooks read each one's 5 newest deliveries through the index: 100
	// descents, one level deeper as histories grow, 58 % of PostgreSQL's CPU for a list. They
	// are kept on the webhook's row instead (last_triggers.go).
	{8, "album webhooks keep their last 5 triggers", `
ALTER TABLE album_webhooks ADD COLUMN last_triggers TEXT;
UPDATE album_webhooks SET last_triggers = ` + LastTriggersSQL("album_webhooks") + `;
`, ""},
}

// schemaMigration records an applied step.
type schemaMigration struct {
	Version   int `gorm:"primaryKey;autoIncrement:false"`
	Name      string
	AppliedAt time.Time
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// Migrate applies the steps the database has not seen yet, each in its own transaction.
// Concurrent callers on PostgreSQL are serialised by an advisory lock.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrateTo(ctx, migrations[len(migrations)-1].version)
}

// migrateTo applies the steps up to version (tests start from an older schema with it).
func (s *Store) migrateTo(ctx context.Context, version int) error {
	db := s.db.WithContext(ctx)
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at ` + s.dialectSQL("TIMESTAMPTZ") + ` NOT NULL)`).Error; err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if m.version > version {
			break
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			if s.dialect == Postgres {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(727274)").Error; err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			var n int64
			if err := tx.Model(&schemaMigration{}).Where("version = ?", m.version).Count(&n).Error; err != nil {
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			if n > 0 {
				return nil
			}
			sql := m.sql
			if m.only != "" && m.only != s.dialect {
				sql = ""
			}
			for _, stmt := range splitStatements(s.dialectSQL(sql)) {
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("%q: %w", firstLine(stmt), err)
				}
			}
			return tx.Create(&schemaMigration{Version: m.version, Name: m.name, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// SchemaVersion returns the newest applied migration, 0 for an empty database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v *int
	if err := s.db.WithContext(ctx).Model(&schemaMigration{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// CheckSchema reports whether the database's schema has every migration this build needs (a
// newer one is fine: migrations are append-only).
func (s *Store) CheckSchema(ctx context.Context) error {
	have, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if want := migrations[len(migrations)-1].version; have < want {
		return fmt.Errorf("schema at version %d, this build needs %d (run webhookd migrate)", have, want)
	}
	return nil
}

func (s *Store) dialectSQL(q string) string {
	if s.dialect == SQLite {
		return strings.ReplaceAll(q, "TIMESTAMPTZ", "DATETIME")
	}
	return q
}

func splitStatements(q string) []string {
	var out []string
	for _, stmt := range strings.Split(q, ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
