// Command lists measures the album webhook list, GET /albums/{id}/webhooks (a page of 100
// webhooks with their counters and last 5 triggers), on the shipped webhookd binary with its
// defaults, beside its ceiling: bench/echoceiling, a bare Echo program serving the same bytes
// from memory, loaded the same way in the same run. It prints, with 1,000,000 (and 1,000)
// deliveries stored:
//   - the closed-loop rate at 16 clients, and its ratio to the ceiling's,
//   - p50/p99 at a fixed 500 requests/s, beside the bare Echo program's p99 at the same rate,
//   - the 1,000,000 rate as a share of the 1,000 rate, as measured and beside their ceilings.
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
	"strings"
	"time"

	"github.com/webhookd/webhookd/bench/internal/benchkit"
)

func main() {
	echoBin := flag.String("echo", "./echoceiling", "the bare Echo ceiling binary (bench/echoceiling)")
	f := benchkit.ParseFlags()
	sizes := []int{1000, 1000000}
	seconds := 10 * time.Second
	if f.Quick {
		sizes, seconds = []int{1000}, time.Second
	}
	var rates, shares []float64
	for _, deliveries := range sizes {
		rate, ceiling := measure(f, *echoBin, deliveries, seconds)
		rates, shares = append(rates, rate), append(shares, rate/ceiling)
	}
	if len(sizes) == 2 {
		// The 1,000,000 rate beside the 1,000 rate: as measured, and with each rate taken as a
		// share of its own ceiling, measured in the same minute. The machine's speed drifts
		// between the two (a shared 2-core VM: the bare Echo rate moved by 22 % between the two
		// sizes in one run), and the second figure takes that drift out.
		name := fmt.Sprintf("list, %d deliveries: req/s as a share of the %d rate", sizes[1], sizes[0])
		benchkit.Report(f.DB, name, 100*rates[1]/rates[0], "%", 0)
		benchkit.Report(f.DB, name+", each beside its ceiling", 100*shares[1]/shares[0], "%", 0)
	}
}

// measure seeds a database with deliveries deliveries and measures the list on it. It returns
// the closed-loop rate and its ceiling's.
func measure(f benchkit.Flags, echoBin string, deliveries int, seconds time.Duration) (rate, ceiling float64) {
	db := benchkit.NewDatabase(f)
	defer db.Close()
	env := benchkit.Env(db, benchkit.FreeAddr(), "")
	benchkit.Run(f.Bin, env, "migrate")
	srv := benchkit.Start(f.Bin, env)
	defer srv.Stop()

	token := benchkit.Run(f.Bin, env, "token", "--sub", "alice", "--email", "alice@example.org", "--name", "Alice", "--ttl", "2h")
	c := benchkit.Client(4)
	form := func(path string, v url.Values) []byte {
		st, b := benchkit.Do(c, "POST", srv.URL+path, token, "application/x-www-form-urlencoded", []byte(v.Encode()))
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
	seed(db, album, deliveries/webhooks)
	fmt.Fprintf(os.Stderr, "seeded %d deliveries in %s\n", deliveries, time.Since(t0).Round(time.Second))

	listURL := srv.URL + "/albums/" + album + "/webhooks?limit=100"
	st, body := benchkit.Do(c, "GET", listURL, token, "", nil)
	if st != 200 || !strings.Contains(string(body), "last_triggers") {
		benchkit.Fatalf("list: %d %.200s", st, body)
	}
	get := func(u string) func(c *http.Client) bool {
		return func(c *http.Client) bool { st, _, _ := benchkit.TryDo(c, "GET", u, token, "", nil); return st == 200 }
	}
	// Warm both up, then measure webhookd and the ceiling one after the other. webhookd is warmed
	// with more clients than its pool has connections (25 on PostgreSQL), so that every
	// connection is open and has run the list before the measurements: a connection the pool
	// opens during one (the fixed rate's, when a hiccup raises the concurrency past the 16 of the
	// warm-up) runs its first list on a cold PostgreSQL backend, tens of milliseconds more (15 new
	// backends, p99 909 ms, then 0 and 101 ms in a second run on the same server, load 10).
	benchkit.ClosedLoop(warmClients, seconds/5, get(listURL))
	wait := srv.Profile(fmt.Sprintf("%s-list-%d", f.DB, deliveries), seconds)
	load := benchkit.ClosedLoop(16, seconds, get(listURL))
	wait()

	bodyFile := filepath.Join(db.Dir, "page.json")
	if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
		benchkit.Fatalf("write page: %v", err)
	}
	echoAddr := benchkit.FreeAddr()
	echo := exec.Command(echoBin, "-addr", echoAddr, "-file", bodyFile)
	echo.Stderr = os.Stderr
	echo.SysProcAttr = benchkit.DieWithParent()
	if err := echo.Start(); err != nil {
		benchkit.Fatalf("start %s: %v", echoBin, err)
	}
	defer func() { _ = echo.Process.Kill(); _ = echo.Wait() }()
	echoURL := "http://" + echoAddr + "/albums/" + album + "/webhooks?limit=100"
	if !benchkit.Wait(context.Background(), 10*time.Second, func() bool { st, _ := tryGet(echoURL); return st == 200 }) {
		benchkit.Fatalf("echo ceiling does not answer")
	}
	benchkit.ClosedLoop(16, seconds/5, get(echoURL))
	echoLoad := benchkit.ClosedLoop(16, seconds, get(echoURL))

	name := fmt.Sprintf("list, page of 100, %d deliveries: req/s at 16 clients (%d KB)", deliveries, len(body)/1000)
	if load.Errors > 0 {
		benchkit.Fatalf("%d list errors", load.Errors)
	}
	benchkit.Report(f.DB, name, load.Rate(), "/s", echoLoad.Rate())
	fixed := benchkit.OpenLoop(500, seconds, func(c *http.Client, _ int) bool { return get(listURL)(c) })
	if fixed.Errors > 0 {
		// More than the server can serve: requests queue up until the client's 30 s timeout.
		benchkit.Report(f.DB, fmt.Sprintf("list, %d deliveries, at 500 req/s: requests failed or timed out", deliveries), float64(fixed.Errors), "", 0)
	}
	// The bare Echo program at the same fixed rate: the tail this machine gives a server that does
	// nothing (a stall of the machine, of the benchmark's own client, shows in both).
	echoFixed := benchkit.OpenLoop(500, seconds, func(c *http.Client, _ int) bool { return get(echoURL)(c) })
	benchkit.Report(f.DB, fmt.Sprintf("list, %d deliveries, at 500 req/s: p50", deliveries), ms(benchkit.Percentile(fixed.Latencies, 50)), "ms", 0)
	benchkit.Report(f.DB, fmt.Sprintf("list, %d deliveries, at 500 req/s: p99 (ceiling: bare Echo's p99)", deliveries),
		ms(benchkit.Percentile(fixed.Latencies, 99)), "ms", ms(benchkit.Percentile(echoFixed.Latencies, 99)))
	return load.Rate(), echoLoad.Rate()
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
		exec(`UPDATE album_webhooks SET number_of_triggers = $1 WHERE id = $2`, perWebhook, id)
	}
	if d.Kind == "postgres" {
		exec("VACUUM (ANALYZE) deliveries, album_webhooks")
		exec("CHECKPOINT")
	} else {
		exec("ANALYZE")
		exec("PRAGMA wal_checkpoint(TRUNCATE)")
	}
}
