// Command lists measures the album webhook list, GET /albums/{id}/webhooks (a page of 100
// webhooks with their counters and last 5 triggers), on the shipped webhookd binary with its
// defaults, beside its ceiling: bench/echoceiling, a bare Echo program serving the same bytes
// from memory, loaded the same way in the same run. It prints, with 1,000 and 1,000,000
// deliveries stored:
//   - the closed-loop rate at 16 clients, and its ratio to the ceiling's,
//   - the 1,000,000 rate as a share of the 1,000 rate,
//   - p50/p99 at a fixed 500 requests/s, beside the bare Echo program's p99 at the same rate.
//
// Both sizes are seeded first, each on its own webhookd and database, and then measured in
// interleaved rounds: each round loads the 1,000 server, its ceiling, the 1,000,000 server and
// its ceiling, one after the other. The machine's speed drifts over a run (a shared 2-core VM:
// the bare Echo rate moved by 22 % between the two sizes measured a minute apart, and the 1M
// rate came out at 74-124 % of the 1k rate over a day of runs), and rounds put that drift on
// both sizes alike instead of on their ratio. The server not under load is paused (SIGSTOP), so
// that its background work (River's polls and maintenance) is not measured with the other: left
// running, it raised the other's p99 at 500 req/s from 7-11 ms to 10-21 ms.
//
// Usage: go run ./bench/lists -db sqlite|postgres [-bin ./webhookd] [-echo ./echoceiling] [-quick]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/webhookd/webhookd/bench/internal/benchkit"
	"github.com/webhookd/webhookd/store"
)

// rounds is how many times each size and its ceiling are loaded, in turn.
const rounds = 5

func main() {
	echoBin := flag.String("echo", "./echoceiling", "the bare Echo ceiling binary (bench/echoceiling)")
	f := benchkit.ParseFlags()
	sizes := []int{1000, 1000000}
	round := 2 * time.Second // 10 s of each load over the rounds
	if f.Quick {
		sizes, round = []int{1000}, 200*time.Millisecond
	}
	var lists []*list
	for _, deliveries := range sizes {
		l := newList(f, *echoBin, deliveries)
		defer l.close()
		l.srv.Pause()
		lists = append(lists, l)
	}
	// each runs fn on every size in turn, its server resumed and warmed up (its timers fired
	// while it was paused), then paused again.
	each := func(fn func(l *list)) {
		for _, l := range lists {
			l.srv.Resume()
			benchkit.ClosedLoop(16, round/4, l.get(l.listURL))
			fn(l)
			l.srv.Pause()
		}
	}
	// Warm up: webhookd with more clients than its pool has connections (25 on PostgreSQL), so
	// that every connection is open and has run the list before the measurements: a connection
	// the pool opens during one (the fixed rate's, when a hiccup raises the concurrency past the
	// 16 of the warm-up) runs its first list on a cold PostgreSQL backend, tens of milliseconds
	// more (15 new backends, p99 909 ms, then 0 and 101 ms in a second run on the same server).
	each(func(l *list) {
		benchkit.ClosedLoop(warmClients, 2*round, l.get(l.listURL))
		benchkit.ClosedLoop(16, 2*round, l.get(l.echoURL))
	})

	// The closed-loop rates, in rounds; a CPU profile of each server over the last.
	shares := []float64{}
	for r := range rounds {
		var rates []float64
		each(func(l *list) {
			wait := func() {}
			if r == rounds-1 {
				wait = l.srv.Profile(fmt.Sprintf("%s-list-%d", f.DB, l.deliveries), round)
			}
			load := benchkit.ClosedLoop(16, round, l.get(l.listURL))
			wait()
			l.load, rates = merge(l.load, load), append(rates, load.Rate())
			l.ceiling = merge(l.ceiling, benchkit.ClosedLoop(16, round, l.get(l.echoURL)))
		})
		if len(rates) == 2 {
			shares = append(shares, 100*rates[1]/rates[0])
		}
	}
	for _, l := range lists {
		if l.load.Errors > 0 {
			benchkit.Fatalf("%d list errors", l.load.Errors)
		}
		name := fmt.Sprintf("list, page of 100, %d deliveries: req/s at 16 clients (%d KB)", l.deliveries, l.size/1000)
		benchkit.Report(f.DB, name, l.load.Rate(), "/s", l.ceiling.Rate())
	}
	if len(lists) == 2 {
		benchkit.Report(f.DB, fmt.Sprintf("list, %d deliveries: req/s as a share of the %d rate", lists[1].deliveries, lists[0].deliveries),
			100*lists[1].load.Rate()/lists[0].load.Rate(), "%", 0)
		benchkit.Report(f.DB, fmt.Sprintf("list, %d deliveries: the same, lowest of %d rounds", lists[1].deliveries, rounds), slices.Min(shares), "%", 0)
		benchkit.Report(f.DB, fmt.Sprintf("list, %d deliveries: the same, highest of %d rounds", lists[1].deliveries, rounds), slices.Max(shares), "%", 0)
	}

	// The fixed rate, in rounds too; the bare Echo program at the same rate gives the tail this
	// machine gives a server that does nothing (a stall of the machine, of the benchmark's own
	// client, shows in both).
	for range rounds {
		each(func(l *list) {
			l.fixed = merge(l.fixed, benchkit.OpenLoop(500, round, func(c *http.Client, _ int) bool { return l.get(l.listURL)(c) }))
			l.echoFixed = merge(l.echoFixed, benchkit.OpenLoop(500, round, func(c *http.Client, _ int) bool { return l.get(l.echoURL)(c) }))
		})
	}
	for _, l := range lists {
		if l.fixed.Errors > 0 {
			// More than the server can serve: requests queue up until the client's 30 s timeout.
			benchkit.Report(f.DB, fmt.Sprintf("list, %d deliveries, at 500 req/s: requests failed or timed out", l.deliveries), float64(l.fixed.Errors), "", 0)
		}
		benchkit.Report(f.DB, fmt.Sprintf("list, %d deliveries, at 500 req/s: p50", l.deliveries), ms(benchkit.Percentile(l.fixed.Latencies, 50)), "ms", 0)
		benchkit.Report(f.DB, fmt.Sprintf("list, %d deliveries, at 500 req/s: p99 (ceiling: bare Echo's p99)", l.deliveries),
			ms(benchkit.Percentile(l.fixed.Latencies, 99)), "ms", ms(benchkit.Percentile(l.echoFixed.Latencies, 99)))
	}
}

// list is one size under measurement: its database, its webhookd serving the list, and the
// bare Echo program serving the same page.
type list struct {
	deliveries int
	// size is the page's length in bytes.
	size             int
	db               *benchkit.Database
	srv              *benchkit.Server
	echo             *exec.Cmd
	token            string
	listURL, echoURL string
	// The loads, summed over the rounds.
	load, ceiling, fixed, echoFixed benchkit.Load
}

// merge adds a round's load to the sum of the rounds before it.
func merge(sum, l benchkit.Load) benchkit.Load {
	sum.Requests += l.Requests
	sum.Errors += l.Errors
	sum.Elapsed += l.Elapsed
	sum.Latencies = append(sum.Latencies, l.Latencies...)
	return sum
}

// newList seeds a database with an album of 100 webhooks and deliveries deliveries, and starts
// webhookd on it and the bare Echo program serving the same page.
func newList(f benchkit.Flags, echoBin string, deliveries int) *list {
	l := &list{deliveries: deliveries, db: benchkit.NewDatabase(f)}
	env := benchkit.Env(l.db, benchkit.FreeAddr(), "")
	benchkit.Run(f.Bin, env, "migrate")
	l.srv = benchkit.Start(f.Bin, env)

	l.token = benchkit.Run(f.Bin, env, "token", "--sub", "alice", "--email", "alice@example.org", "--name", "Alice", "--ttl", "2h")
	c := benchkit.Client(4)
	form := func(path string, v url.Values) []byte {
		st, b := benchkit.Do(c, "POST", l.srv.URL+path, l.token, "application/x-www-form-urlencoded", []byte(v.Encode()))
		if st != 201 {
			benchkit.Fatalf("POST %s: %d %s", path, st, b)
		}
		return b
	}
	album := jsonField(form("/albums", url.Values{"name": {"bench"}}), "album_id")
	const webhooks = 100
	for i := range webhooks {
		form("/albums/"+album+"/webhooks", url.Values{"url": {fmt.Sprintf("https://receiver.example.org/%d", i)},
			"name": {fmt.Sprint(i)}, "event": {"new_series", "new_user"}})
	}
	t0 := time.Now()
	seed(l.db, album, deliveries/webhooks)
	fmt.Fprintf(os.Stderr, "seeded %d deliveries in %s\n", deliveries, time.Since(t0).Round(time.Second))

	l.listURL = l.srv.URL + "/albums/" + album + "/webhooks?limit=100"
	st, body := benchkit.Do(c, "GET", l.listURL, l.token, "", nil)
	if st != 200 || !strings.Contains(string(body), "last_triggers") {
		benchkit.Fatalf("list: %d %.200s", st, body)
	}
	l.size = len(body)
	bodyFile := filepath.Join(l.db.Dir, "page.json")
	if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
		benchkit.Fatalf("write page: %v", err)
	}
	echoAddr := benchkit.FreeAddr()
	l.echo = exec.Command(echoBin, "-addr", echoAddr, "-file", bodyFile)
	l.echo.Stderr = os.Stderr
	l.echo.SysProcAttr = benchkit.DieWithParent()
	if err := l.echo.Start(); err != nil {
		benchkit.Fatalf("start %s: %v", echoBin, err)
	}
	l.echoURL = "http://" + echoAddr + "/albums/" + album + "/webhooks?limit=100"
	if !benchkit.Wait(context.Background(), 10*time.Second, func() bool { st, _ := tryGet(l.echoURL); return st == 200 }) {
		benchkit.Fatalf("echo ceiling does not answer")
	}
	return l
}

// get is a request of the list at u (webhookd's or the ceiling's): true when it answered 200.
func (l *list) get(u string) func(c *http.Client) bool {
	return func(c *http.Client) bool { st, _, _ := benchkit.TryDo(c, "GET", u, l.token, "", nil); return st == 200 }
}

func (l *list) close() {
	_ = l.echo.Process.Kill()
	_ = l.echo.Wait()
	l.srv.Stop()
	l.db.Close()
}

// warmClients is the concurrency of webhookd's warm-up: more than its pool's connections.
const warmClients = 32

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func tryGet(u string) (int, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func jsonField(b []byte, key string) string {
	s := string(b)
	i := strings.Index(s, `"`+key+`":"`)
	if i < 0 {
		benchkit.Fatalf("no %s in %s", key, s)
	}
	s = s[i+len(key)+4:]
	return s[:strings.IndexByte(s, '"')]
}

// seed stores perWebhook deliveries (9 in 10 successful) for each of the album's webhooks,
// straight into the database, and their trigger counters, then settles the database as a
// production one is between bulk changes, so that the measurement that follows is of the list
// and not of the aftermath of a bulk load:
//   - PostgreSQL: VACUUM (ANALYZE) of the tables written, as autovacuum does once the insert
//     threshold is passed: on a stock server it would otherwise start within its naptime,
//     during the measurement; on the development server, whose autovacuum is off, the loaded
//     rows would never be vacuumed. Then CHECKPOINT, so that the checkpoint the load's WAL
//     requested (pg_stat_bgwriter: it started during the seed and went on writing through the
//     measurement) is done before the first request.
//   - SQLite: ANALYZE, then a checkpoint of the WAL into the database file.
func seed(d *benchkit.Database, album string, perWebhook int) {
	db := d.Open()
	defer db.Close()
	rows, err := db.Query("SELECT id FROM album_webhooks WHERE album_id = $1", album)
	if err != nil {
		benchkit.Fatalf("read webhooks: %v", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	exec := func(q string, args ...any) {
		if _, err := db.Exec(q, args...); err != nil {
			benchkit.Fatalf("seed: %v\n%s", err, q)
		}
	}
	for _, id := range ids {
		if d.Kind == "postgres" {
			exec(`INSERT INTO deliveries (id, family, webhook_id, event, url, payload, status, max_attempts, created_at)
				SELECT $1 || '-' || g, 'kheops', $1, 'new_user', 'https://receiver.example.org', '{}',
					CASE WHEN g % 10 = 0 THEN 'failure' ELSE 'success' END, 5,
					now() - (g || ' seconds')::interval
				FROM generate_series(1, $2::int) g`, id, perWebhook)
		} else {
			exec(`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?)
				INSERT INTO deliveries (id, family, webhook_id, event, url, payload, status, max_attempts, created_at)
				SELECT ? || '-' || n, 'kheops', ?, 'new_user', 'https://receiver.example.org', '{}',
					CASE WHEN n % 10 = 0 THEN 'failure' ELSE 'success' END, 5,
					strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || n || ' seconds')
				FROM g`, perWebhook, id, id)
		}
		exec(`UPDATE album_webhooks SET number_of_triggers = $1, last_triggers = `+store.LastTriggersSQL("album_webhooks")+`
			WHERE id = $2`, perWebhook, id)
	}
	if d.Kind == "postgres" {
		exec("VACUUM (ANALYZE) deliveries, album_webhooks")
		exec("CHECKPOINT")
	} else {
		exec("ANALYZE")
		exec("PRAGMA wal_checkpoint(TRUNCATE)")
	}
}
