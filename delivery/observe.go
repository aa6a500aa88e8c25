package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Observer is told of every attempt the engine makes, for metrics. It must not block.
type Observer interface {
	// AttemptDone is called once an attempt of a delivery of family is recorded, with its
	// class (see OutcomeClass) and how long the request took.
	AttemptDone(family, class string, took time.Duration)
	// DirectDispatch counts n first attempts by what direct dispatch did with them (PostgreSQL):
	// DirectQueued (taken once their transaction committed), DirectSpilled (queued in River
	// instead: no room) or DirectHandedBack (given back to River, see direct.go).
	DirectDispatch(result string, n int)
}

// What direct dispatch did with first attempts (Observer.DirectDispatch).
const (
	DirectQueued     = "queued"
	DirectSpilled    = "spilled"
	DirectHandedBack = "handed_back"
)

type noObserver struct{}

func (noObserver) AttemptDone(string, string, time.Duration) {}
func (noObserver) DirectDispatch(string, int)                {}

// The classes of attempt outcomes (OutcomeClass).
const (
	ClassSuccess         = "success"
	Class3xx             = "3xx"
	Class4xx             = "4xx"
	Class5xx             = "5xx"
	ClassTimeout         = "timeout"
	ClassRefusedTarget   = "refused_target"
	ClassConnectionError = "connection_error"
)

// OutcomeClass sorts an attempt's result into a small fixed set of classes: success (2xx),
// 3xx (redirects are not followed), 4xx, 5xx, timeout, refused_target (the target policy
// refused the address) and connection_error (DNS, TLS, refused or reset connections...).
func OutcomeClass(status int, err error) string {
	switch {
	case err != nil && errors.Is(err, ErrTargetRefused):
		return ClassRefusedTarget
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)):
		return ClassTimeout
	case err != nil:
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			return ClassTimeout
		}
		return ClassConnectionError
	case status >= 200 && status <= 299:
		return ClassSuccess
	case status >= 500:
		return Class5xx
	case status >= 400:
		return Class4xx
	}
	return Class3xx
}

// targetHost is the host of a webhook url, for logs (the path may hold secrets).
func targetHost(rawURL string) string {
	rest := rawURL
	if _, after, ok := strings.Cut(rawURL, "://"); ok {
		rest = after
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	return rest
}

// Client is the queue's River client, for River UI.
func (e *Engine) Client() *river.Client[*sql.Tx] { return e.client }

// Ready reports whether the engine works jobs: started and not stopped, on queue tables
// migrated to the version this build needs.
func (e *Engine) Ready(ctx context.Context) error {
	if !e.started.Load() {
		return errors.New("not started")
	}
	select {
	case <-e.client.Stopped():
		return errors.New("stopped")
	default:
	}
	return nil
}

// CheckQueueSchema reports whether the queue's tables are migrated to this build's version.
func (e *Engine) CheckQueueSchema(ctx context.Context) error {
	m, err := rivermigrate.New(e.queue.driver, nil)
	if err != nil {
		return fmt.Errorf("queue migrator: %w", err)
	}
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return fmt.Errorf("read queue schema version: %w", err)
	}
	all := m.AllVersions()
	want, have := all[len(all)-1].Version, 0
	for _, v := range existing {
		have = max(have, v.Version)
	}
	if have < want {
		return fmt.Errorf("queue schema at version %d, this build needs %d (run webhookd migrate)", have, want)
	}
	return nil
}

// QueueCountCap bounds the count of jobs in each state that QueueStats makes.
const QueueCountCap = 100000

// QueueStats counts the queue's jobs by state (each count stops at QueueCountCap, so the query
// is bounded whatever the table holds) and tells how long the oldest due job has waited
// (zero when none is due). One statement each.
func (e *Engine) QueueStats(ctx context.Context) (map[string]int64, time.Duration, error) {
	jobStates := []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted,
		rivertype.JobStateDiscarded, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}
	var q strings.Builder
	for i, s := range jobStates {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT '%s', COUNT(*) FROM (SELECT 1 FROM river_job WHERE state = '%s' LIMIT %d) AS t%d", s, s, QueueCountCap, i)
	}
	rows, err := e.store.SQLDB().QueryContext(ctx, q.String())
	if err != nil {
		return nil, 0, fmt.Errorf("count queue jobs: %w", err)
	}
	defer rows.Close()
	counts := make(map[string]int64, len(jobStates))
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return nil, 0, fmt.Errorf("count queue jobs: %w", err)
		}
		counts[state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("count queue jobs: %w", err)
	}
	oldest, err := e.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1))
	if err != nil {
		return nil, 0, fmt.Errorf("oldest due job: %w", err)
	}
	var age time.Duration
	if len(oldest.Jobs) > 0 {
		age = max(time.Since(oldest.Jobs[0].ScheduledAt), 0)
	}
	return counts, age, nil
}
