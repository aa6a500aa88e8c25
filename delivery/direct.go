package delivery

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/webhookd/webhookd/store"
)

// Direct dispatch (PostgreSQL): the first attempt of a delivery published to a healthy webhook
// is made by the process that published it, as soon as the publishing transaction commits,
// without River fetching its job and marking it done.
//
//   - The job is still inserted in the publishing transaction, but as running, attempted by this
//     process: River's producers never fetch it, and if the process dies before recording the
//     attempt, River's rescuer makes it again (within RescueAfter plus its 30 s check), as it
//     does for any attempt lost with its process.
//   - Recording the attempt deletes the job, in the same statement (store.AttemptOutcome.Job).
//   - An attempt that cannot be made at once (its webhook has its bound of attempts in flight),
//     that waited longer than the rescue allows (maxDirectWait), that fails to be recorded, or
//     that is still waiting when the engine stops, is handed back: its job is made available,
//     and River runs it as any other.
//
// Only deliveries whose webhook had nothing failing, postponed or paced take this path
// (store.DeliveryRef.Healthy), up to DirectQueue waiting or in flight at once; the others are
// queued in River as before. A burst past the bound spills over to River. On SQLite every
// attempt goes through River.

// DefaultDirectQueue bounds the first attempts waiting for direct dispatch or in flight: about
// 600 bytes each, so the default holds about 6 MB. MaxDirectQueue bounds EngineConfig's: the
// queue's room (328 bytes a slot) is set aside when the engine is made.
const (
	DefaultDirectQueue = 10000
	MaxDirectQueue     = 100000
)

// directJob is a first attempt waiting for direct dispatch.
type directJob struct {
	in store.AttemptInput
	// job is the id of the attempt's River job (running, attempted by this process).
	job int64
	// metadata carries the trace of the request that published the delivery (traceMetadata).
	metadata []byte
	// queued is when the job was queued (handed back when it waited too long: maxDirectWait).
	queued time.Time
}

// direct is the queue of first attempts made by direct dispatch.
type direct struct {
	// max bounds the jobs reserved (queued or in flight).
	max int
	mu  sync.Mutex
	// reserved counts the jobs reserved by transactions, queued, or in flight.
	reserved int
	// closed is set by stop: nothing more is reserved or queued.
	closed bool
	queue  chan directJob
	wg     sync.WaitGroup
}

func newDirect(max int) *direct {
	return &direct{max: max, queue: make(chan directJob, max)}
}

// reserve takes up to n slots and returns how many it took.
func (d *direct) reserve(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0
	}
	n = min(n, d.max-d.reserved)
	d.reserved += n
	return n
}

// release gives back n slots (a transaction that rolled back, jobs done or handed back).
func (d *direct) release(n int) {
	d.mu.Lock()
	d.reserved -= n
	d.mu.Unlock()
}

// push queues jobs whose slots were reserved. It returns the ids of those it could not queue
// because the engine is stopping (their slots released): the caller hands them back.
func (d *direct) push(jobs []directJob) []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		d.reserved -= len(jobs)
		left := make([]int64, len(jobs))
		for i, j := range jobs {
			left[i] = j.job
		}
		return left
	}
	now := time.Now()
	for _, j := range jobs {
		j.queued = now
		d.queue <- j // never blocks: the channel holds max jobs and at most max are reserved
	}
	return nil
}

// stop closes the queue to new jobs and returns the jobs still waiting in it.
func (d *direct) stop() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	var left []int64
	for j := range d.queue {
		left = append(left, j.job)
		d.reserved--
	}
	return left
}

// enqueueDirect inserts the jobs of the refs that direct dispatch takes, as many as its queue
// has room for, and returns the others.
func (e *Engine) enqueueDirect(ctx context.Context, tx *sql.Tx, refs []store.DeliveryRef) ([]store.DeliveryRef, error) {
	if e.direct == nil || !e.started.Load() {
		return refs, nil
	}
	var take, rest []store.DeliveryRef
	for _, r := range refs {
		if r.Healthy && r.Row != nil {
			take = append(take, r)
		} else {
			rest = append(rest, r)
		}
	}
	n := e.direct.reserve(len(take))
	if n < len(take) {
		e.cfg.Observer.DirectDispatch(DirectSpilled, len(take)-n)
	}
	if n == 0 {
		return refs, nil
	}
	take, rest = take[:n], append(rest, take[n:]...)
	var jobs []directJob
	if !store.OnCommit(ctx, func(committed bool) {
		if !committed || jobs == nil {
			e.direct.release(n)
			return
		}
		left := e.direct.push(jobs)
		e.cfg.Observer.DirectDispatch(DirectQueued, len(jobs)-len(left))
		if len(left) > 0 {
			e.handBack(left, 0)
		}
	}) {
		e.direct.release(n)
		return refs, nil
	}
	var err error
	if jobs, err = e.directJobs(ctx, tx, take); err != nil {
		return nil, err
	}
	return rest, nil
}

// startDirect starts the workers of direct dispatch (Workers of them), when it is on. Their
// attempts outlive ctx, as River's do: stopDirect ends them.
func (e *Engine) startDirect(ctx context.Context) {
	if e.direct == nil {
		return
	}
	var dctx context.Context
	dctx, e.cancelDirect = context.WithCancel(context.WithoutCancel(ctx))
	for range e.cfg.Workers {
		e.direct.wg.Add(1)
		go e.runDirect(dctx)
	}
}

// stopDirect stops direct dispatch: the attempts in flight finish (bounded by ctx, then
// cancelled); those still waiting are handed back to River.
func (e *Engine) stopDirect(ctx context.Context) {
	if e.direct == nil || e.cancelDirect == nil {
		return
	}
	if left := e.direct.stop(); len(left) > 0 {
		e.handBack(left, 0)
	}
	done := make(chan struct{})
	go func() { e.direct.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.cancelDirect()
		<-done
	}
	e.cancelDirect()
}

// directJobs inserts, in the caller's transaction, the running jobs of refs's first attempts,
// and returns the attempts to dispatch once the transaction commits.
func (e *Engine) directJobs(ctx context.Context, tx *sql.Tx, refs []store.DeliveryRef) ([]directJob, error) {
	const insert = `INSERT INTO river_job (args, kind, max_attempts, metadata, priority, queue, state, attempt,
		attempted_at, attempted_by, scheduled_at, tags)
	SELECT CAST(a AS JSONB), $1, $2, CAST(m AS JSONB), p, $3, 'running', 1, now(), ARRAY[CAST($4 AS TEXT)], now(), '{}'
	FROM unnest(CAST($5 AS TEXT[]), CAST($6 AS TEXT[]), CAST($7 AS SMALLINT[])) AS u (a, m, p)
	RETURNING id, args->>'delivery_id'`
	jobs := make([]directJob, len(refs))
	args, metadata, priorities := make([]string, len(refs)), make([]string, len(refs)), make([]int16, len(refs))
	byDelivery := make(map[string]int, len(refs))
	for i, r := range refs {
		// The same job River would get (firstAttempt), inserted running.
		first := e.firstAttempt(ctx, r)
		b, err := json.Marshal(first.Args)
		if err != nil {
			return nil, err
		}
		meta := first.InsertOpts.Metadata
		if meta == nil {
			meta = []byte("{}")
		}
		args[i], metadata[i], priorities[i] = string(b), string(meta), int16(first.InsertOpts.Priority)
		jobs[i] = directJob{in: store.AttemptInput{Delivery: *r.Row, HookExists: true, HookEnabled: true}, metadata: meta}
		byDelivery[r.ID] = i
	}
	rows, err := tx.QueryContext(ctx, insert, attemptArgs{}.Kind(), attemptArgs{}.InsertOpts().MaxAttempts, queueName,
		e.client.ID(), args, metadata, priorities)
	if err != nil {
		return nil, fmt.Errorf("delivery: insert running jobs: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			id       int64
			delivery string
		)
		if err := rows.Scan(&id, &delivery); err != nil {
			return nil, fmt.Errorf("delivery: insert running jobs: %w", err)
		}
		i, ok := byDelivery[delivery]
		if !ok {
			return nil, fmt.Errorf("delivery: insert running jobs: unknown delivery %q", delivery)
		}
		jobs[i].job = id
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delivery: insert running jobs: %w", err)
	}
	if n != len(refs) {
		return nil, fmt.Errorf("delivery: insert running jobs: %d of %d inserted", n, len(refs))
	}
	return jobs, nil
}

// runDirect makes the attempts of the direct queue until it is closed and drained.
func (e *Engine) runDirect(ctx context.Context) {
	defer e.direct.wg.Done()
	for j := range e.direct.queue {
		e.attemptDirect(ctx, j)
	}
}

// attemptDirect makes one first attempt of the direct queue, or hands it back to River.
func (e *Engine) attemptDirect(ctx context.Context, j directJob) {
	defer e.direct.release(1)
	if time.Since(j.queued) > e.maxDirectWait() {
		e.handBack([]int64{j.job}, 0)
		return
	}
	release, wait := e.limit.take(ctx, j.in.WebhookID, time.Now())
	if release == nil {
		e.handBack([]int64{j.job}, wait)
		return
	}
	ctx, span := e.startSpan(ctx, "webhook attempt", j.metadata, attemptAttrs(j.in.ID, 1)...)
	err := e.sendAndRecord(ctx, j.in, 1, false, j.job, release)
	endSpan(span, err)
	if err != nil {
		if ctx.Err() == nil {
			e.log.WarnContext(ctx, "direct attempt not recorded, handed back to the queue", "delivery", j.in.ID, "error", err)
		}
		e.handBack([]int64{j.job}, 0)
	}
}

// maxDirectWait is how long a job may wait in the direct queue: River's rescuer makes again an
// attempt whose job has been running for RescueAfter, so one that starts later than this is
// handed back instead, leaving its request (Timeout) and its recording 10 s before the rescue.
func (e *Engine) maxDirectWait() time.Duration {
	return max(e.rescueAfter()-e.cfg.Timeout-10*time.Second, time.Second)
}

// handBack makes jobs, running under this process's direct dispatch, available to River after
// wait. A job left running (the database failed here too) is rescued by River later.
func (e *Engine) handBack(ids []int64, wait time.Duration) {
	e.cfg.Observer.DirectDispatch(DirectHandedBack, len(ids))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.store.SQLDB().ExecContext(ctx, `UPDATE river_job SET state = $1, attempt = 0, attempted_at = NULL,
		attempted_by = NULL, scheduled_at = now() + CAST($2 AS BIGINT) * interval '1 microsecond'
		WHERE id = ANY($3) AND state = $4`, rivertype.JobStateAvailable, wait.Microseconds(), ids, rivertype.JobStateRunning)
	if err != nil {
		e.log.WarnContext(ctx, "direct attempts not handed back; River's rescuer will make them", "jobs", len(ids), "error", err)
	}
}
