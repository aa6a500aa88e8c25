// Package benchkit holds what webhookd's benchmark programs share: running the shipped binary
// on a fresh database, minting its tokens, a local TLS receiver, HTTP load and percentiles.
package benchkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/glebarez/go-sqlite"  // the SQLite driver of the store, for seeding
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, for schemas and seeding
)

// Flags are the options every benchmark program takes.
type Flags struct {
	// Bin is the webhookd binary (make build).
	Bin string
	// DB is "sqlite" or "postgres".
	DB string
	// PostgresURL is the server the PostgreSQL runs use; each run makes a schema of its own.
	PostgresURL string
	// Quick shrinks every load to a second or so (CI's smoke run).
	Quick bool
}

// ParseFlags reads the common flags (and any the program defined before) from the command line.
func ParseFlags() Flags {
	var f Flags
	flag.StringVar(&f.Bin, "bin", "./webhookd", "the webhookd binary to run")
	flag.StringVar(&f.DB, "db", "sqlite", "database: sqlite or postgres")
	flag.StringVar(&f.PostgresURL, "postgres", envOr("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL server URL (BENCH_DATABASE_URL); a fresh schema is made in it")
	flag.BoolVar(&f.Quick, "quick", false, "tiny loads, to check that the program works")
	flag.Parse()
	if f.DB != "sqlite" && f.DB != "postgres" {
		Fatalf("-db: want sqlite or postgres, got %q", f.DB)
	}
	return f
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Fatalf prints and exits 1.
func Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

// Database is a fresh database for one run: a SQLite file, or a PostgreSQL schema.
type Database struct {
	Kind string
	// URL is DATABASE_URL for webhookd ("" for SQLite).
	URL string
	// Dir is webhookd's data directory (its SQLite file, its development key).
	Dir  string
	drop func()
}

// NewDatabase makes a fresh database of kind f.DB.
func NewDatabase(f Flags) *Database {
	dir, err := os.MkdirTemp("", "webhookd-bench-")
	if err != nil {
		Fatalf("temp dir: %v", err)
	}
	d := &Database{Kind: f.DB, Dir: dir, drop: func() {}}
	if f.DB == "postgres" {
		b := make([]byte, 5)
		_, _ = rand.Read(b)
		schema := "bench_" + hex.EncodeToString(b)
		admin, err := sql.Open("pgx", f.PostgresURL)
		if err != nil {
			Fatalf("postgres: %v", err)
		}
		vacuumCatalogs(admin)
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			Fatalf("create schema: %v", err)
		}
		u, err := url.Parse(f.PostgresURL)
		if err != nil {
			Fatalf("postgres url: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		d.URL = u.String()
		d.drop = func() {
			_, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			_ = admin.Close()
		}
	}
	return d
}

// vacuumCatalogs vacuums PostgreSQL's catalogs when autovacuum is off (as on the development
// server): each run creates and drops a schema of some twenty tables, and without vacuum the
// dead catalog rows pile up (297,000 in pg_attribute after a day of runs) and slow down every
// figure measured after them. It needs a superuser; without one it does nothing.
func vacuumCatalogs(admin *sql.DB) {
	var autovacuum string
	if err := admin.QueryRow("SHOW autovacuum").Scan(&autovacuum); err != nil || autovacuum == "on" {
		return
	}
	_, _ = admin.Exec(`VACUUM pg_catalog.pg_attribute, pg_catalog.pg_class, pg_catalog.pg_depend, pg_catalog.pg_type,
		pg_catalog.pg_index, pg_catalog.pg_constraint, pg_catalog.pg_trigger, pg_catalog.pg_attrdef`)
}

// Open opens the database for seeding or measuring directly.
func (d *Database) Open() *sql.DB {
	var (
		db  *sql.DB
		err error
	)
	if d.Kind == "postgres" {
		db, err = sql.Open("pgx", d.URL)
	} else {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(d.Dir, "webhookd.db")+
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	}
	if err != nil {
		Fatalf("open database: %v", err)
	}
	return db
}

// Close drops the database.
func (d *Database) Close() {
	d.drop()
	_ = os.RemoveAll(d.Dir)
}

// Server is a running webhookd.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	bin  string
	env  []string
	done chan struct{}
	// pprof is the address of the server's profiling endpoint ("" when not profiling).
	pprof string
}

// Env is the environment webhookd runs with: its defaults, on db, allowed to reach loopback
// receivers, trusting the receiver's certificate.
func Env(db *Database, addr, certFile string, extra ...string) []string {
	env := append(os.Environ(),
		"WEBHOOKD_ADDR="+addr, "WEBHOOKD_DATA_DIR="+db.Dir, "DATABASE_URL="+db.URL,
		"WEBHOOKD_ALLOW_TARGET_CIDRS=127.0.0.0/8", "WEBHOOKD_LOG_LEVEL=warn",
		"WEBHOOKD_PUBLIC_URL=http://"+addr)
	if certFile != "" {
		env = append(env, "SSL_CERT_FILE="+certFile)
	}
	return append(env, extra...)
}

// Run runs a webhookd command to completion and returns its output.
func Run(bin string, env []string, args ...string) string {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		Fatalf("webhookd %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(out.String())
}

// Start starts `webhookd serve` and waits until it answers.
func Start(bin string, env []string) *Server {
	addr := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "WEBHOOKD_ADDR="); ok {
			addr = v
		}
	}
	// Profiling (bench/profile.sh): each server gets its own endpoint, as a benchmark may run
	// several at once.
	pprof := ""
	if os.Getenv("BENCH_PROFILE") != "" && os.Getenv("WEBHOOKD_PPROF_ADDR") != "" {
		pprof = FreeAddr()
		env = append(slices.Clip(env), "WEBHOOKD_PPROF_ADDR="+pprof)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.SysProcAttr = DieWithParent()
	// The server's log goes to a file: under a load it cannot keep up with it logs every
	// request that fails.
	logFile, err := os.CreateTemp(os.Getenv("BENCH_LOGS"), "webhookd-*.log")
	if err != nil {
		Fatalf("log file: %v", err)
	}
	fmt.Fprintf(os.Stderr, "webhookd's log: %s\n", logFile.Name())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		Fatalf("start webhookd: %v", err)
	}
	s := &Server{URL: "http://" + addr, cmd: cmd, bin: bin, env: env, done: make(chan struct{}), pprof: pprof}
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-s.done:
			Fatalf("webhookd exited before answering")
		default:
		}
		if time.Now().After(deadline) {
			Fatalf("webhookd did not answer within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Metric sums the samples of the server's /metrics whose line starts with prefix (a metric's
// name, with some of its labels: `webhookd_direct_dispatch_total{result="handed_back"}`).
func (s *Server) Metric(prefix string) float64 {
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		Fatalf("metrics: %v", err)
	}
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			Fatalf("metrics: %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// Profile records a CPU profile of the server for d, into $BENCH_PROFILE/<name>.prof, when the
// server is a binary built with -tags pprof and WEBHOOKD_PPROF_ADDR is set (bench/profile.sh;
// each server listens on an address of its own). It returns at once; call the returned function
// to wait for the profile.
func (s *Server) Profile(name string, d time.Duration) (wait func()) {
	dir, addr := os.Getenv("BENCH_PROFILE"), s.pprof
	if dir == "" || addr == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(max(d, time.Second).Seconds())))
		if err != nil {
			fmt.Fprintf(os.Stderr, "profile %s: %v\n", name, err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		_ = os.WriteFile(filepath.Join(dir, name+".prof"), b, 0o644)
	}()
	return func() { <-done }
}

// DieWithParent makes a child process end with the benchmark program, however it ends.
func DieWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// Pid is the server's process id (for CPU and memory readings).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop stops the server (SIGINT, then SIGKILL after 10 s).
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused server would not handle the interrupt
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Pause freezes the server (SIGSTOP): it uses no CPU until Resume, while another is measured.
func (s *Server) Pause() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume thaws a paused server (SIGCONT).
func (s *Server) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// FreeAddr returns a free loopback address.
func FreeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Receiver is a local HTTPS webhook receiver answering at once: 200, or what Answer says. It
// counts the requests and shows each one's body and arrival time to the caller.
type Receiver struct {
	URL      string
	CertFile string
	Count    atomic.Int64
	srv      *http.Server
	mu       sync.Mutex
	arrivals []time.Time
	onBody   func(body []byte, at time.Time)
	// Answer, when set before the first request, chooses each request's status.
	Answer func(req *http.Request, at time.Time) int
}

// NewReceiver starts a receiver; onBody (optional) sees each request's body.
func NewReceiver(dir string, onBody func(body []byte, at time.Time)) *Receiver {
	cert, certPEM := selfSigned()
	certFile := filepath.Join(dir, "receiver.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		Fatalf("write certificate: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		Fatalf("listen: %v", err)
	}
	r := &Receiver{URL: "https://" + ln.Addr().String() + "/hook", CertFile: certFile, onBody: onBody}
	r.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			at := time.Now()
			r.Count.Add(1)
			if r.onBody != nil {
				r.onBody(body, at)
			}
			if r.Answer != nil {
				w.WriteHeader(r.Answer(req, at))
			}
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog:  nil,
	}
	go func() { _ = r.srv.ServeTLS(ln, "", "") }()
	return r
}

// Close stops the receiver.
func (r *Receiver) Close() { _ = r.srv.Close() }

// Client is an HTTP client for load: keep-alive connections, enough of them.
func Client(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute,
	}}
}

// Do sends a request and returns the status and body; it exits on a transport error.
func Do(c *http.Client, method, url, token, contentType string, body []byte) (int, []byte) {
	st, b, err := TryDo(c, method, url, token, contentType, body)
	if err != nil {
		Fatalf("%s %s: %v", method, url, err)
	}
	return st, b
}

// TryDo sends a request and returns the status and body, or the transport error (a timeout
// under a load the server cannot keep up with).
func TryDo(c *http.Client, method, url, token, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		Fatalf("request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// Load is the outcome of a load run.
type Load struct {
	Requests  int
	Errors    int
	Elapsed   time.Duration
	Latencies []time.Duration
}

// Rate is requests per second.
func (l Load) Rate() float64 { return float64(l.Requests) / l.Elapsed.Seconds() }

// ClosedLoop runs `clients` goroutines sending req back to back for d, and reports.
func ClosedLoop(clients int, d time.Duration, req func(c *http.Client) bool) Load {
	c := Client(clients)
	var (
		mu   sync.Mutex
		all  Load
		wg   sync.WaitGroup
		stop = time.Now().Add(d)
	)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			errs := 0
			for time.Now().Before(stop) {
				t := time.Now()
				if !req(c) {
					errs++
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all.Latencies = append(all.Latencies, mine...)
			all.Errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	all.Elapsed = time.Since(start)
	all.Requests = len(all.Latencies)
	return all
}

// OpenLoop sends req at a fixed rate for d (each on its own goroutine, so a slow answer does
// not delay the next request) and reports.
func OpenLoop(rate float64, d time.Duration, req func(c *http.Client, i int) bool) Load {
	c := Client(512)
	var (
		mu  sync.Mutex
		all Load
		wg  sync.WaitGroup
	)
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			ok := req(c, i)
			lat := time.Since(t)
			mu.Lock()
			all.Latencies = append(all.Latencies, lat)
			if !ok {
				all.Errors++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	all.Elapsed = time.Since(start)
	all.Requests = n
	return all
}

// Percentile returns the p-th percentile (0-100) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// Ms formats a duration in milliseconds.
func Ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// Report prints one figure, optionally beside its ceiling (ratio), on one line that `make bench`
// collects: "figure | value | ceiling | ratio".
func Report(db, name string, value float64, unit string, ceiling float64) {
	if ceiling > 0 {
		fmt.Printf("RESULT %-10s %-58s %10.1f %-10s ceiling %10.1f  = %5.1f %%\n", db, name, value, unit, ceiling, 100*value/ceiling)
		return
	}
	fmt.Printf("RESULT %-10s %-58s %10.1f %s\n", db, name, value, unit)
}

// Wait polls cond every 10 ms until it holds or the timeout passes; it reports whether it held.
func Wait(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
