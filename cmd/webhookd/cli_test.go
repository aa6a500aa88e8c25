package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/buildinfo"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// runCLI runs a command line with a data directory that does not exist yet, and returns the
// exit code, the outputs and the data directory.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr, dataDir string) {
	t.Helper()
	dataDir = filepath.Join(t.TempDir(), "data")
	full := map[string]string{"WEBHOOKD_DATA_DIR": dataDir}
	for k, v := range env {
		full[k] = v
	}
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, envOf(full))
	return code, out.String(), errOut.String(), dataDir
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "no command", args: nil, wantCode: 2, wantStderr: []string{"no command", "usage: webhookd <command>"}},
		{name: "help", args: []string{"help"}, wantStdout: []string{"usage: webhookd <command>", "serve", "healthcheck", "version"}},
		{name: "-h", args: []string{"-h"}, wantStdout: []string{"usage: webhookd <command>"}},
		{name: "--help", args: []string{"--help"}, wantStdout: []string{"usage: webhookd <command>"}},
		{name: "help serve", args: []string{"help", "serve"}, wantStdout: []string{"usage: webhookd serve"}},
		{name: "serve --help does not serve", args: []string{"serve", "--help"}, wantStdout: []string{"usage: webhookd serve\n"}},
		{name: "migrate --help does not migrate", args: []string{"migrate", "--help"}, wantStdout: []string{"usage: webhookd migrate\n"}},
		{name: "token -h", args: []string{"token", "-h"}, wantStdout: []string{"usage: webhookd token [flags]", "-sub", "-ttl"}},
		{name: "healthcheck -h", args: []string{"healthcheck", "-h"}, wantStdout: []string{"usage: webhookd healthcheck [flags]", "-url"}},
		{name: "help even with a bad configuration", args: []string{"serve", "-h"}, env: map[string]string{"WEBHOOKD_PUBLIC_URL": "x"},
			wantStdout: []string{"usage: webhookd serve"}},
		{name: "unknown flag", args: []string{"serve", "-addr", ":9999"}, wantCode: 2,
			wantStderr: []string{"flag provided but not defined: -addr", "usage: webhookd serve"}},
		{name: "unknown token flag", args: []string{"token", "--sub", "a", "--bogus"}, wantCode: 2,
			wantStderr: []string{"-bogus", "usage: webhookd token"}},
		{name: "bad flag value", args: []string{"token", "--sub", "a", "--ttl", "soon"}, wantCode: 2, wantStderr: []string{"-ttl"}},
		{name: "unexpected argument", args: []string{"migrate", "now"}, wantCode: 2,
			wantStderr: []string{`unexpected argument "now"`, "usage: webhookd migrate"}},
		{name: "unknown command", args: []string{"start"}, wantCode: 2, wantStderr: []string{`unknown command "start"`, "usage:"}},
		{name: "version", args: []string{"version"}, wantStdout: []string{"webhookd " + buildinfo.Get().Version + " (commit "}},
		{name: "--version", args: []string{"--version"}, wantStdout: []string{"webhookd " + buildinfo.Get().Version}},
		{name: "version with a bad configuration", args: []string{"version"}, env: map[string]string{"WEBHOOKD_PUBLIC_URL": "x"},
			wantStdout: []string{"webhookd "}},
		{name: "invalid public url", args: []string{"migrate"}, env: map[string]string{"WEBHOOKD_PUBLIC_URL": "not a url"}, wantCode: 1,
			wantStderr: []string{"configuration:", "WEBHOOKD_PUBLIC_URL", "absolute http"}},
		{name: "every bad setting at once", args: []string{"serve"}, env: map[string]string{"WEBHOOKD_LOG_LEVEL": "loud", "DATABASE_URL": "mysql://x"},
			wantCode: 1, wantStderr: []string{"WEBHOOKD_LOG_LEVEL", "DATABASE_URL"}},
		{name: "unreachable database, password hidden", args: []string{"migrate"},
			env: map[string]string{"DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/webhookd?sslmode=disable&connect_timeout=5"}, wantCode: 1,
			wantStderr: []string{"cannot connect to PostgreSQL at DATABASE_URL postgres://u:xxxxx@127.0.0.1:1/webhookd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr, dataDir := runCLI(t, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.wantCode, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout %q lacks %q", stdout, w)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr shows the password: %q", stderr)
			}
			if code == 0 && stderr != "" {
				t.Errorf("stderr %q on success", stderr)
			}
			if code != 0 && stdout != "" {
				t.Errorf("stdout %q on failure", stdout)
			}
			if _, err := os.Stat(dataDir); err == nil {
				t.Errorf("%v created the data directory", tt.args)
			}
		})
	}
}

func TestTokenSaysWhenItCreatesAKey(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"WEBHOOKD_DATA_DIR": dir})
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"token", "--sub", "a"}, &out, &errOut, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := "created a new development signing key at " + filepath.Join(dir, auth.DevKeyFile)
	if !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q lacks %q", errOut.String(), want)
	}
	if strings.Count(out.String(), ".") != 2 {
		t.Errorf("stdout %q is not one JWT", out.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"token", "--sub", "a"}, &out, &errOut, env); code != 0 || errOut.Len() != 0 {
		t.Errorf("second token: exit %d, stderr %q (the key exists: nothing to say)", code, errOut.String())
	}
}

func TestUnwritableDataDir(t *testing.T) {
	// Root ignores permission bits, so the directory is made impossible: a file is in the way.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"migrate"}, {"token", "--sub", "a"}} {
		var errOut bytes.Buffer
		code := run(context.Background(), cmd, &bytes.Buffer{}, &errOut, envOf(map[string]string{"WEBHOOKD_DATA_DIR": filepath.Join(file, "data")}))
		if code != 1 || !strings.Contains(errOut.String(), "WEBHOOKD_DATA_DIR "+filepath.Join(file, "data")+" cannot be created") {
			t.Errorf("%v: exit %d, stderr %q", cmd, code, errOut.String())
		}
	}
}

func TestMissingPostgresDatabaseIsExplained(t *testing.T) {
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI needs TEST_DATABASE_URL")
		}
		t.Skip("needs TEST_DATABASE_URL (PostgreSQL)")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/webhookd_no_such_database"
	code, _, stderr, _ := runCLI(t, map[string]string{"DATABASE_URL": u.String()}, "migrate")
	if code != 1 || !strings.Contains(stderr, `"webhookd_no_such_database" does not exist`) || !strings.Contains(stderr, "create the database first") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	code, stdout, stderr, _ := runCLI(t, map[string]string{"WEBHOOKD_ADDR": addr}, "healthcheck")
	if code != 0 || !strings.Contains(stdout, "ready") {
		t.Errorf("ready server: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	status = http.StatusServiceUnavailable
	code, _, stderr, _ = runCLI(t, nil, "healthcheck", "-url", srv.URL+"/readyz")
	if code != 1 || !strings.Contains(stderr, "503") {
		t.Errorf("unready server: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr, _ = runCLI(t, map[string]string{"WEBHOOKD_ADDR": "127.0.0.1:1"}, "healthcheck")
	if code != 1 || !strings.Contains(stderr, "not ready") {
		t.Errorf("no server: exit %d, stderr %q", code, stderr)
	}
}

func TestReadyzURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/readyz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/readyz",
		"[::]:9000":      "http://127.0.0.1:9000/readyz",
		"10.0.0.5:8080":  "http://10.0.0.5:8080/readyz",
		"[::1]:8080":     "http://[::1]:8080/readyz",
		"localhost:1234": "http://localhost:1234/readyz",
	} {
		if got := readyzURL(addr); got != want {
			t.Errorf("readyzURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestMetricsOnTheirOwnListener: with WEBHOOKD_METRICS_ADDR, /metrics is served there and not
// on the API's listener.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	cfg := testConfig(t)
	cfg.Addr, cfg.MetricsAddr = freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, quiet) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; {
		res, err := http.Get("http://" + cfg.MetricsAddr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if body = string(b); res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics on %s: %v", cfg.MetricsAddr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(body, "webhookd_build_info{") {
		t.Errorf("metrics listener: %.300s", body)
	}
	var res *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err = http.Get("http://" + cfg.Addr + "/metrics"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the API listener: %d, want 404", res.StatusCode)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
