// Package nodetest runs the pinned Node.js tools of tools/npm from Go tests: the Standard
// Webhooks library, the TypeScript SDK's tests, the headless browser test.
//
// The tools are found through WEBHOOKD_NPM_TOOLS, the folder tools/npm/ensure.sh prints
// (.ci/run sets it). Without it the test is skipped, unless CI=true: then it fails, since
// nothing may be skipped in CI.
package nodetest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// EnvVar names the variable that holds the tools' folder.
const EnvVar = "WEBHOOKD_NPM_TOOLS"

// Dir returns the folder of the installed tools (its node_modules holds the packages).
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvVar)
	if dir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is not set: run %s=$(tools/npm/ensure.sh)", EnvVar, EnvVar)
		}
		t.Skipf("%s is not set (%s=$(tools/npm/ensure.sh) runs this test)", EnvVar, EnvVar)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("%s=%s has no node_modules: %v", EnvVar, dir, err)
	}
	return dir
}

// RepoRoot returns the repository's root folder.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("nodetest: no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Command describes one run of a tool.
type Command struct {
	// Name is "node" or a command of node_modules/.bin (e.g. "tsx").
	Name string
	Args []string
	// Dir is the working folder (the repository's root when empty).
	Dir string
	// Env is added to the environment; NODE_PATH points at the tools' node_modules, so that
	// CommonJS scripts anywhere can require the pinned packages.
	Env []string
	// Timeout bounds the run (2 minutes when zero).
	Timeout time.Duration
}

// Run runs c and returns its standard output. A failure (exit status, timeout) fails the test
// with both outputs.
func Run(t testing.TB, c Command) []byte {
	t.Helper()
	dir := Dir(t)
	name := c.Name
	if name != "node" {
		name = filepath.Join(dir, "node_modules", ".bin", c.Name)
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, c.Args...)
	cmd.Dir = c.Dir
	if cmd.Dir == "" {
		cmd.Dir = RepoRoot(t)
	}
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Env = append(cmd.Env, c.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", c.Name, c.Args, err, stdout.Bytes(), stderr.Bytes())
	}
	if testing.Verbose() && stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", c.Name, stderr.Bytes())
	}
	return stdout.Bytes()
}
