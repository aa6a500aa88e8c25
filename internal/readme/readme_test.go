package readme

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	doc := "# A\n```sh\nnot run\n```\n## B\n```bash walkthrough\necho one\n```\n" +
		"````bash walkthrough postgres\necho ```\necho two\n````\n~~~\n```bash walkthrough\n~~~\n"
	ws, err := Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 {
		t.Fatalf("%d walkthroughs: %+v", len(ws), ws)
	}
	if ws[0].Heading != "B" || ws[0].Script != "echo one\n" || ws[0].Line != 6 || len(ws[0].Tags) != 0 {
		t.Errorf("first %+v", ws[0])
	}
	if ws[1].Script != "echo ```\necho two\n" || !ws[1].HasTag("postgres") {
		t.Errorf("second %+v", ws[1])
	}
	if _, err := Parse(strings.NewReader("```bash walkthrough\nx\n")); err == nil {
		t.Error("an unclosed block must be an error")
	}
}

// TestWalkthroughs runs every walkthrough of README.md, in order, with bash -euo pipefail in a
// copy of the repository (so ./webhookd and ./data land there, not in the working tree). A
// walkthrough tagged postgres needs the PostgreSQL the README names (127.0.0.1:5432, user
// postgres), which CI has.
func TestWalkthroughs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the walkthroughs build binaries and start servers")
	}
	ci := os.Getenv("CI") != ""
	for _, tool := range []string{"bash", "curl", "jq", "make", "openssl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if ci {
				t.Fatalf("CI needs %s for the README walkthroughs", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := Parse(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) < 5 {
		t.Fatalf("README.md has %d walkthroughs; the blocks to run are marked ```bash walkthrough", len(ws))
	}
	// The walkthroughs' ports (8080 for webhookd, 9000 and 9443 for the receivers) are replaced
	// by free ones, so that a server a developer runs on this machine is neither hit nor in the
	// way; nothing else of the text is changed.
	port := freePort(t)
	ports := strings.NewReplacer("localhost:8080", "localhost:"+port,
		"127.0.0.1:9000", "127.0.0.1:"+freePort(t), "127.0.0.1:9443", "127.0.0.1:"+freePort(t))
	dir := t.TempDir()
	copyTree(t, root, dir)
	for _, w := range ws {
		name := fmt.Sprintf("line %d %s", w.Line, w.Heading)
		t.Run(name, func(t *testing.T) {
			if w.HasTag("postgres") && os.Getenv("TEST_DATABASE_URL") == "" && !ci {
				t.Skip("needs PostgreSQL (set TEST_DATABASE_URL to run it)")
			}
			script := ports.Replace(w.Script)
			runBlock(t, dir, script, "WEBHOOKD_ADDR=:"+port)
		})
	}
}

// runBlock runs a script in its own process group, killed with whatever it left running.
func runBlock(t *testing.T, dir, script string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-buildvcs=false"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything the block left behind
	}
	if err != nil {
		logs, _ := os.ReadFile(filepath.Join(dir, "webhookd.log"))
		t.Fatalf("the walkthrough failed (%v); its output:\n%s\nwebhookd.log:\n%s", err, out.String(), tail(string(logs), 40))
	}
	t.Logf("output:\n%s", out.String())
}

// freePort returns a port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// copyTree copies the repository's files into dst, without its history, binaries and data.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	skipTop := map[string]bool{".git": true, "data": true, "webhookd": true, "webhookd.log": true}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if skipTop[rel] || d.Name() == "node_modules" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
