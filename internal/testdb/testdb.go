// Package testdb gives each test a fresh, migrated database: a SQLite file always, and a
// PostgreSQL schema of its own when TEST_DATABASE_URL is set.
//
// With CI=true, TEST_DATABASE_URL must be set: nothing that should run is skipped.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/webhookd/webhookd/store"
)

// Kind is a database a test runs on.
type Kind string

// The database kinds.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Kinds returns the databases tests run on here: SQLite, plus PostgreSQL when
// TEST_DATABASE_URL is set. It fails the test when CI=true and PostgreSQL is not configured.
func Kinds(t testing.TB) []Kind {
	kinds := []Kind{SQLite}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		kinds = append(kinds, Postgres)
	} else if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL tests would be skipped")
	}
	return kinds
}

// Each runs fn as a subtest once per database kind.
func Each(t *testing.T, fn func(t *testing.T, kind Kind)) {
	for _, k := range Kinds(t) {
		t.Run(string(k), func(t *testing.T) { fn(t, k) })
	}
}

// Config returns the store configuration of a fresh, empty database of the given kind, removed
// when the test ends.
func Config(t testing.TB, kind Kind) store.Config {
	t.Helper()
	if kind == SQLite {
		return store.Config{SQLitePath: filepath.Join(t.TempDir(), "webhookd.db")}
	}
	base := os.Getenv("TEST_DATABASE_URL")
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if sqlDB, err := admin.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return store.Config{DatabaseURL: u.String()}
}

// Open returns a migrated store on a fresh database of the given kind, closed when the test ends.
func Open(t testing.TB, kind Kind, cfg store.Config) *store.Store {
	t.Helper()
	base := Config(t, kind)
	cfg.DatabaseURL, cfg.SQLitePath = base.DatabaseURL, base.SQLitePath
	return open(t, cfg)
}

// open opens and migrates the store of cfg, closed when the test ends.
func open(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://webhookd.test"
	}
	if cfg.MaxConns == 0 {
		// Tests share one PostgreSQL server (100 connections): a small pool per test.
		cfg.MaxConns = 8
	}
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}
