// Command riverceiling measures River's own pace on this machine, the ceiling of webhookd's
// delivery throughput: a backlog of no-op jobs drained by one client with 100 workers, on a fresh
// database. PostgreSQL runs River at its best: the pgx driver (riverpgxv5) with LISTEN/NOTIFY.
// SQLite runs River's SQLite driver, as webhookd does. It prints the rate and, when BENCH_OUT is
// set, writes it to $BENCH_OUT/river-<db> for bench/deliveries to compare against.
//
// Usage: go run ./bench/riverceiling -db sqlite|postgres [-quick]
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/webhookd/webhookd/bench/internal/benchkit"
)

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	done *atomic.Int64
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	w.done.Add(1)
	return nil
}

func main() {
	jobs := flag.Int("jobs", 20000, "no-op jobs in the backlog")
	cooldown := flag.Duration("fetch-cooldown", 10*time.Millisecond, "River's FetchCooldown (its default is 100ms)")
	f := benchkit.ParseFlags()
	if f.Quick {
		*jobs = 1000
	}
	ctx := context.Background()
	db := benchkit.NewDatabase(f)
	defer db.Close()
	var done atomic.Int64
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{done: &done})
	cfg := &river.Config{
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 100}},
		Workers:       workers,
		FetchCooldown: *cooldown,
		Logger:        nil,
	}
	var (
		start func() error
		stop  func()
	)
	if f.DB == "postgres" {
		pool, err := pgxpool.New(ctx, db.URL)
		if err != nil {
			benchkit.Fatalf("pgx pool: %v", err)
		}
		defer pool.Close()
		driver := riverpgxv5.New(pool)
		migrate[pgx.Tx](ctx, driver)
		client, err := river.NewClient(driver, cfg)
		if err != nil {
			benchkit.Fatalf("client: %v", err)
		}
		insert(*jobs, func(p []river.InsertManyParams) error { _, err := client.InsertMany(ctx, p); return err })
		start, stop = func() error { return client.Start(ctx) }, func() { _ = client.Stop(ctx) }
	} else {
		sqlDB := db.Open()
		defer sqlDB.Close()
		sqlDB.SetMaxOpenConns(4)
		sqlDB.SetMaxIdleConns(4)
		driver := riversqlite.New(sqlDB)
		migrate[*sql.Tx](ctx, driver)
		client, err := river.NewClient(driver, cfg)
		if err != nil {
			benchkit.Fatalf("client: %v", err)
		}
		insert(*jobs, func(p []river.InsertManyParams) error { _, err := client.InsertMany(ctx, p); return err })
		start, stop = func() error { return client.Start(ctx) }, func() { _ = client.Stop(ctx) }
	}
	t0 := time.Now()
	if err := start(); err != nil {
		benchkit.Fatalf("start: %v", err)
	}
	if !benchkit.Wait(ctx, 10*time.Minute, func() bool { return done.Load() >= int64(*jobs) }) {
		benchkit.Fatalf("%d of %d jobs worked", done.Load(), *jobs)
	}
	rate := float64(*jobs) / time.Since(t0).Seconds()
	stop()
	benchkit.Report(f.DB, fmt.Sprintf("River no-op jobs/s, backlog of %d, 100 workers", *jobs), rate, "/s", 0)
	if out := os.Getenv("BENCH_OUT"); out != "" {
		_ = os.WriteFile(out+"/river-"+f.DB, []byte(fmt.Sprintf("%.1f\n", rate)), 0o644)
	}
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		benchkit.Fatalf("migrator: %v", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		benchkit.Fatalf("migrate: %v", err)
	}
}

func insert(n int, insertMany func([]river.InsertManyParams) error) {
	for i := 0; i < n; i += 1000 {
		batch := make([]river.InsertManyParams, min(1000, n-i))
		for j := range batch {
			batch[j] = river.InsertManyParams{Args: noopArgs{}}
		}
		if err := insertMany(batch); err != nil {
			benchkit.Fatalf("insert: %v", err)
		}
	}
}
