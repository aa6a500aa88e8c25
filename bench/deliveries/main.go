// Command deliveries drives the shipped webhookd binary, with its default settings, through
// facility events sent to a local HTTPS receiver that answers 200 at once, and prints:
//   - event -> first attempt latency at 100 events/s (and 1,000 events/s),
//   - delivery throughput: a burst of events fanning out to 100 webhooks each drained,
//   - ingest: events accepted per second by POST /internal/events/facility at 16 clients,
//   - the process's CPU time per 1,000 deliveries and its peak memory,
//   - its memory while a backlog of 100,000 deliveries drains (beside its memory before),
//   - how late retries come: deliveries whose first attempt fails, retried after 2 s.
//
// Usage: go run ./bench/deliveries -db sqlite|postgres [-bin ./webhookd] [-quick]
// [-phases latency,burst,ingest,backlog,retries] [-rates 100,1000] [-busy cores]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webhookd/webhookd/bench/internal/benchkit"
)

func main() {
	deliveries := flag.Int("deliveries", 20000, "deliveries of the throughput burst (100 per event)")
	backlog := flag.Int("backlog", 100000, "deliveries of the memory phase's backlog (100 per event)")
	phaseList := flag.String("phases", "latency,burst,ingest,backlog,retries", "the phases to run, comma-separated")
	rateList := flag.String("rates", "", "the latency phase's event rates, comma-separated (default 100, and 1000 on PostgreSQL)")
	busy := flag.Int("busy", 0, "cores this program keeps busy through the latency phase, as another tenant of the machine would")
	f := benchkit.ParseFlags()
	if f.Quick {
		*deliveries, *backlog = 1000, 2000
	}
	phases := map[string]bool{}
	for _, p := range strings.Split(*phaseList, ",") {
		phases[strings.TrimSpace(p)] = true
	}
	lat := &latencies{}
	r := startRun(f, "F-T,F-L,F-I", lat.record)
	defer r.close()
	db, rcv, srv, c := r.db, r.rcv, r.srv, r.c
	r.hook("F-L")
	r.hook("F-I")
	const fanOut = 100
	for range fanOut {
		r.hook("F-T")
	}
	publish := func(c *http.Client, facility string, i int) bool {
		return r.publish(c, facility, fmt.Sprintf(`{"n":%d,"sent":%d}`, i, time.Now().UnixNano()))
	}
	waitFor := func(n int64, timeout time.Duration) {
		if !benchkit.Wait(context.Background(), timeout, func() bool { return rcv.Count.Load() >= n }) {
			benchkit.Fatalf("%d of %d deliveries received after %s", rcv.Count.Load(), n, timeout)
		}
	}
	seconds := 10 * time.Second
	if f.Quick {
		seconds = time.Second
	}

	// Latency at fixed event rates (one delivery per event).
	rates := []float64{100}
	if db.Kind == "postgres" {
		rates = append(rates, 1000)
	}
	if *rateList != "" {
		rates = nil
		for _, r := range strings.Split(*rateList, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
			if err != nil || v <= 0 {
				benchkit.Fatalf("-rates: %q is not a rate", r)
			}
			rates = append(rates, v)
		}
	}
	if !phases["latency"] {
		rates = nil
	}
	stopSpin := spin(*busy)
	for _, rate := range rates {
		// A warm-up at the same rate (connections, caches), not measured.
		warmed := rcv.Count.Load()
		warm := benchkit.OpenLoop(rate, seconds/5, func(c *http.Client, i int) bool { return publish(c, "F-L", i) })
		waitFor(warmed+int64(warm.Requests-warm.Errors), 5*time.Minute)
		lat.reset()
		before, handedBack := rcv.Count.Load(), srv.Metric(handedBackMetric)
		defer srv.Profile(fmt.Sprintf("%s-latency-%.0f", db.Kind, rate), seconds)()
		load := benchkit.OpenLoop(rate, seconds, func(c *http.Client, i int) bool { return publish(c, "F-L", i) })
		if load.Errors > 0 {
			benchkit.Report(db.Kind, fmt.Sprintf("events refused or timed out at %.0f events/s", rate), float64(load.Errors), "", 0)
		}
		waitFor(before+int64(load.Requests-load.Errors), 5*time.Minute)
		ls := lat.all()
		name := fmt.Sprintf("event -> first attempt at %.0f events/s", rate)
		benchkit.Report(db.Kind, name+", p50", ms(benchkit.Percentile(ls, 50)), "ms", 0)
		benchkit.Report(db.Kind, name+", p99", ms(benchkit.Percentile(ls, 99)), "ms", 0)
		// A backlog that grows shows as the last tenth of the events waiting longer than the first.
		tenth := len(ls) / 10
		benchkit.Report(db.Kind, name+", p50 of the last 10 % of events", ms(benchkit.Percentile(lat.last(tenth), 50)), "ms", 0)
		benchkit.Report(db.Kind, fmt.Sprintf("POST /internal/events/facility at %.0f events/s, p50", rate), ms(benchkit.Percentile(load.Latencies, 50)), "ms", 0)
		if db.Kind == "postgres" {
			// First attempts direct dispatch gave back to River (the webhook's bound of attempts in
			// flight was taken for too long): each waits for River's fetch, seconds later.
			benchkit.Report(db.Kind, fmt.Sprintf("first attempts handed back to River at %.0f events/s", rate), srv.Metric(handedBackMetric)-handedBack, "", 0)
		}
	}
	stopSpin()

	// burst publishes events fanning out to 100 webhooks each, as fast as 4 clients can, and
	// waits until every delivery has reached the receiver.
	burst := func(events int) time.Duration {
		before := rcv.Count.Load()
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan int)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					if !publish(c, "F-T", i) {
						benchkit.Fatalf("publish failed")
					}
				}
			}()
		}
		for i := range events {
			next <- i
		}
		close(next)
		wg.Wait()
		waitFor(before+int64(events*fanOut), 20*time.Minute)
		return time.Since(start)
	}

	// Throughput: a burst, timed from the first event published to the last delivery received.
	if phases["burst"] {
		events := *deliveries / fanOut
		cpu0 := cpuSeconds(srv.Pid())
		wait := srv.Profile(db.Kind+"-burst", seconds)
		elapsed := burst(events)
		cpu := cpuSeconds(srv.Pid()) - cpu0
		wait()
		benchkit.Report(db.Kind, fmt.Sprintf("deliveries/s, burst of %d (%d events x %d webhooks)", events*fanOut, events, fanOut),
			float64(events*fanOut)/elapsed.Seconds(), "/s", ceiling(db.Kind))
		benchkit.Report(db.Kind, "CPU seconds of webhookd per 1,000 deliveries (burst)", 1000*cpu/float64(events*fanOut), "s", 0)
	}

	// Ingest: 16 clients publishing back to back (one delivery per event, to F-I).
	if phases["ingest"] {
		wait := srv.Profile(db.Kind+"-ingest", seconds)
		load := benchkit.ClosedLoop(16, seconds, func(c *http.Client) bool { return publish(c, "F-I", 0) })
		wait()
		if load.Errors > 0 {
			benchkit.Fatalf("%d publish errors", load.Errors)
		}
		benchkit.Report(db.Kind, "ingest: events accepted/s, 16 clients (ceiling: bare commits/s)", load.Rate(), "/s", commitRate(db, seconds))
		benchkit.Report(db.Kind, "ingest: p99 of POST /internal/events/facility", ms(benchkit.Percentile(load.Latencies, 99)), "ms", 0)
	}

	// Memory with a backlog: the resident memory sampled every 100 ms while a burst of
	// *backlog deliveries is published and drained, beside the memory just before it.
	if phases["backlog"] {
		idle := rssMB(srv.Pid())
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				if v := uint64(rssMB(srv.Pid())); v > peak.Load() {
					peak.Store(v)
				}
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
		elapsed := burst(*backlog / fanOut)
		close(stop)
		<-sampled
		benchkit.Report(db.Kind, fmt.Sprintf("deliveries/s, backlog of %d drained", *backlog), float64(*backlog)/elapsed.Seconds(), "/s", 0)
		benchkit.Report(db.Kind, fmt.Sprintf("memory of webhookd (RSS) while %d deliveries drain (before: %.0f MB)", *backlog, idle),
			float64(peak.Load()), "MB", 0)
	}
	benchkit.Report(db.Kind, "peak memory of webhookd over the run (VmHWM)", peakMB(srv.Pid()), "MB", 0)
	srv.Stop()

	if phases["retries"] {
		retries(f, f.Quick)
	}
}

// retryDelay is the retry schedule of the retries phase: the example, 2 s then 4 s,
// each spread by the shipped jitter of 10 %.
const retryDelay = 2 * time.Second

// retries runs webhookd on a fresh database with WEBHOOKD_FACILITY_RETRY_DELAYS=2s,4s and
// sends events to a receiver that fails each delivery's first attempt (500) and accepts its
// second. It reports how long after the first answer the retry came, and how many retries came
// within their bound: the delay and its jitter (10 %), plus 1 s.
func retries(f benchkit.Flags, quick bool) {
	var (
		mu    sync.Mutex
		first = map[string]time.Time{}
		gaps  []time.Duration
	)
	r := startRun(f, "F-R", nil, "WEBHOOKD_FACILITY_RETRY_DELAYS=2s,4s")
	defer r.close()
	r.rcv.Answer = func(req *http.Request, at time.Time) int {
		id := req.Header.Get("webhook-id")
		mu.Lock()
		defer mu.Unlock()
		t, seen := first[id]
		if !seen {
			first[id] = at
			return http.StatusInternalServerError
		}
		gaps = append(gaps, at.Sub(t))
		return http.StatusOK
	}
	r.hook("F-R")
	n := 50
	if quick {
		n = 5
	}
	// One event every 100 ms: retries come due while other first attempts are being made.
	benchkit.OpenLoop(10, time.Duration(n)*100*time.Millisecond, func(c *http.Client, i int) bool {
		return r.publish(c, "F-R", fmt.Sprintf(`{"n":%d}`, i))
	})
	if !benchkit.Wait(context.Background(), time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return len(gaps) >= n }) {
		benchkit.Fatalf("retries: %d of %d deliveries retried after a minute", len(gaps), n)
	}
	bound := retryDelay + retryDelay/10 + time.Second
	within := 0
	for _, g := range gaps {
		if g >= retryDelay-retryDelay/10 && g <= bound {
			within++
		}
	}
	benchkit.Report(r.db.Kind, "retry 2 s after a failed attempt: p50 of the time it came after", ms(benchkit.Percentile(gaps, 50)), "ms", 0)
	benchkit.Report(r.db.Kind, "retry 2 s after a failed attempt: latest", ms(benchkit.Percentile(gaps, 100)), "ms", 0)
	benchkit.Report(r.db.Kind, fmt.Sprintf("retries within 2 s -10 %%..+10 %% + 1 s (%d retries)", len(gaps)), float64(within), "", float64(len(gaps)))
}

// run is webhookd on a fresh database with its defaults (and env), a receiver showing each
// request's body to onBody, and the tokens of an application of facilities and of a publisher.
type run struct {
	db       *benchkit.Database
	rcv      *benchkit.Receiver
	srv      *benchkit.Server
	app, pub string
	c        *http.Client
}

func startRun(f benchkit.Flags, facilities string, onBody func([]byte, time.Time), env ...string) *run {
	r := &run{db: benchkit.NewDatabase(f), c: benchkit.Client(4)}
	r.rcv = benchkit.NewReceiver(r.db.Dir, onBody)
	e := benchkit.Env(r.db, benchkit.FreeAddr(), r.rcv.CertFile, env...)
	r.srv = benchkit.Start(f.Bin, e)
	r.app = benchkit.Run(f.Bin, e, "token", "--sub", "bench-app", "--client-id", "bench", "--facilities", facilities)
	r.pub = benchkit.Run(f.Bin, e, "token", "--sub", "bench-publisher", "--scope", "webhooks:publish")
	return r
}

// close stops webhookd and the receiver and drops the database.
func (r *run) close() {
	r.srv.Stop()
	r.rcv.Close()
	r.db.Close()
}

// hook creates a facility webhook of every event of facility, to the receiver.
func (r *run) hook(facility string) {
	body := fmt.Sprintf(`{"url":%q,"events":["all"],"facilities":[%q],"secrets":["bench-secret"]}`, r.rcv.URL, facility)
	if st, b := benchkit.Do(r.c, "POST", r.srv.URL+"/api/v2/public/webhooks/facility", r.app, "application/json", []byte(body)); st != 201 {
		benchkit.Fatalf("create webhook: %d %s", st, b)
	}
}

// publish publishes a shift.created event of facility with data, and tells whether it was
// accepted (false on a timeout: more than the server can take).
func (r *run) publish(c *http.Client, facility, data string) bool {
	body := fmt.Sprintf(`{"eventType":"shift.created","facilityId":%q,"data":%s}`, facility, data)
	st, b, err := benchkit.TryDo(c, "POST", r.srv.URL+"/internal/events/facility", r.pub, "application/json", []byte(body))
	if err != nil {
		return false
	}
	if st != 202 && os.Getenv("BENCH_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "publish: %d %s\n", st, b)
	}
	return st == 202
}

// commitRate is the database's bound on ingest: transactions of one small INSERT each committed
// per second by 16 clients, measured on the same database just after the ingest run.
func commitRate(d *benchkit.Database, seconds time.Duration) float64 {
	db := d.Open()
	defer db.Close()
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if _, err := db.Exec(`CREATE TABLE bench_commits (id TEXT PRIMARY KEY, data TEXT NOT NULL)`); err != nil {
		benchkit.Fatalf("commit ceiling: %v", err)
	}
	var n atomic.Int64
	start := time.Now()
	stop := start.Add(seconds)
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				tx, err := db.Begin()
				if err != nil {
					benchkit.Fatalf("commit ceiling: %v", err)
				}
				if _, err := tx.Exec(`INSERT INTO bench_commits (id, data) VALUES ($1, $2)`, fmt.Sprintf("%d-%d", c, i), "{}"); err != nil {
					benchkit.Fatalf("commit ceiling: %v", err)
				}
				if err := tx.Commit(); err != nil {
					benchkit.Fatalf("commit ceiling: %v", err)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// ceiling reads the River no-op rate measured just before in the same run (bench/riverceiling
// writes it to $BENCH_OUT/river-<db>), or 0.
func ceiling(kind string) float64 {
	b, err := os.ReadFile(os.Getenv("BENCH_OUT") + "/river-" + kind)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	return v
}

// spin keeps n cores busy until the returned function is called.
func spin(n int) (stop func()) {
	var done atomic.Bool
	for range n {
		go func() {
			for !done.Load() {
			}
		}()
	}
	return func() { done.Store(true) }
}

// handedBackMetric counts the first attempts direct dispatch gave back to River.
const handedBackMetric = `webhookd_direct_dispatch_total{result="handed_back"}`

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latencies collects, per delivery received, the time since its event was sent.
type latencies struct {
	mu sync.Mutex
	ds []time.Duration
}

func (l *latencies) record(body []byte, at time.Time) {
	var b struct {
		Data struct {
			Sent int64 `json:"sent"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &b) != nil || b.Data.Sent == 0 {
		return
	}
	l.mu.Lock()
	l.ds = append(l.ds, at.Sub(time.Unix(0, b.Data.Sent)))
	l.mu.Unlock()
}

func (l *latencies) reset() { l.mu.Lock(); l.ds = nil; l.mu.Unlock() }

func (l *latencies) all() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.ds...)
}

func (l *latencies) last(n int) []time.Duration {
	all := l.all()
	return all[max(0, len(all)-n):]
}

// cpuSeconds is the user+system CPU time of a process, from /proc.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100 // clock ticks (USER_HZ = 100 on Linux)
}

// peakMB is a process's peak resident memory, from /proc.
func peakMB(pid int) float64 { return statusMB(pid, "VmHWM:") }

// rssMB is a process's resident memory now, from /proc.
func rssMB(pid int) float64 { return statusMB(pid, "VmRSS:") }

// statusMB reads a memory figure (in kB) of /proc/<pid>/status, in MB.
func statusMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
