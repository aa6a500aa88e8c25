package delivery

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/webhookd/webhookd/store"
)

// queueDriver is River's driver on the store's database, chosen so that a job inserted in the
// store's transaction is picked up as soon as that transaction commits:
//   - PostgreSQL: River's database/sql driver on the store's pool (jobs share the store's
//     transactions), with a pgx listener: the insert's NOTIFY, delivered at commit, wakes the
//     producers of every process at once.
//   - SQLite: River's SQLite driver, whose listener polls a notification table every 50 ms, with
//     in-process wake-ups added (wakeDriver): the store calls Wake after committing.
type queueDriver struct {
	driver riverdriver.Driver[*sql.Tx]
	// wake wakes this process's producers (SQLite; nil on PostgreSQL, where NOTIFY does it).
	wake func()
	// close releases the listener's pool.
	close func()
}

func newQueueDriver(ctx context.Context, st *store.Store) (queueDriver, error) {
	switch st.Dialect() {
	case store.Postgres:
		cfg, err := pgxpool.ParseConfig(st.DatabaseURL())
		if err != nil {
			return queueDriver{}, fmt.Errorf("delivery: listener pool: %w", err)
		}
		// The listener takes one connection out of this pool for good.
		cfg.MinConns, cfg.MaxConns = 0, 1
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return queueDriver{}, fmt.Errorf("delivery: listener pool: %w", err)
		}
		return queueDriver{driver: riverdatabasesql.NewWithPgxListener(st.SQLDB(), pool), close: pool.Close}, nil
	case store.SQLite:
		d := newWakeDriver(riversqlite.New(st.SQLDB()))
		return queueDriver{driver: d, wake: d.Wake, close: func() {}}, nil
	default:
		return queueDriver{}, fmt.Errorf("delivery: no queue driver for %s", st.Dialect())
	}
}

// dueOnTime is an insert hook: a webhookd job scheduled for later (the next attempt of a
// delivery, a coalesced new_series) is stored available with its future scheduled_at, rather
// than scheduled. River's producers only fetch available jobs whose time has come, so their
// polls (every PollInterval) start it on time; a scheduled job would wait for River's scheduler,
// which runs every 5 s on the leader, and retries would come up to 5 s late.
func dueOnTime() rivertype.Hook {
	return river.HookInsertBeginFunc(func(_ context.Context, p *rivertype.JobInsertParams) error {
		if p.Queue == queueName && p.State == rivertype.JobStateScheduled {
			p.State = rivertype.JobStateAvailable
		}
		return nil
	})
}
