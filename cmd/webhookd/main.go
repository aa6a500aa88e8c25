// Command webhookd runs the webhook registry and delivery service.
//
//	webhookd serve        start the HTTP server and the delivery engine
//	webhookd migrate      apply the database migrations and exit
//	webhookd token        print a JWT signed with the development key
//	webhookd healthcheck  exit 0 when the running server is ready (for containers)
//	webhookd version      print the version, commit and build date
//
// Configuration comes from the environment; see package config and the README. Exit codes:
// 0 success (help included), 1 failure, 2 a command line that is not understood.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/webhookd/webhookd/buildinfo"
	"github.com/webhookd/webhookd/config"
)

// env is what a command runs with.
type env struct {
	cfg    config.Config
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand: define declares its flags and returns what runs once they are
// parsed and the configuration is read.
type command struct {
	name    string
	summary string
	define  func(fs *flag.FlagSet) func(ctx context.Context, e env) error
	// noConfig commands run without reading the configuration (bad settings do not stop them).
	noConfig bool
}

func commands() []command {
	return []command{
		{"serve", "start the HTTP server and the delivery engine", func(*flag.FlagSet) func(context.Context, env) error {
			return func(ctx context.Context, e env) error {
				ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				return serve(ctx, e.cfg, e.log)
			}
		}, false},
		{"migrate", "apply the database migrations and exit", func(*flag.FlagSet) func(context.Context, env) error {
			return func(ctx context.Context, e env) error { return migrate(ctx, e.cfg, e.log) }
		}, false},
		{"token", "print a JWT signed with the development key", defineToken, false},
		{"healthcheck", "exit 0 when the server's /readyz answers 200 (for container health checks)", defineHealthcheck, false},
		{"version", "print the version, commit and build date", func(*flag.FlagSet) func(context.Context, env) error {
			return func(_ context.Context, e env) error {
				_, err := fmt.Fprintln(e.stdout, buildinfo.Get())
				return err
			}
		}, true},
	}
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: webhookd <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	b.WriteString("  help         print this help (webhookd <command> -h: the command's flags)\n\n" +
		"Configuration comes from the environment (WEBHOOKD_*, DATABASE_URL): see the README.\n")
	return b.String()
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "webhookd: no command\n\n"+usage())
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "-h"}, stdout, stderr, getenv)
		}
		fmt.Fprint(stdout, usage())
		return 0
	case "--version", "-version":
		args = []string{"version"}
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "webhookd: unknown command %q\n\n%s", args[0], usage())
		return 2
	}
	fs := flag.NewFlagSet("webhookd "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // usage is printed below, once
	act := cmd.define(fs)
	cmdUsage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: webhookd %s", cmd.name)
		if hasFlags(fs) {
			fmt.Fprint(w, " [flags]")
		}
		fmt.Fprintf(w, "\n\n%s\n", cmd.summary)
		if hasFlags(fs) {
			fmt.Fprint(w, "\nflags:\n")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			cmdUsage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "webhookd %s: %v\n\n", cmd.name, err)
		cmdUsage(stderr)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "webhookd %s: unexpected argument %q\n\n", cmd.name, fs.Arg(0))
		cmdUsage(stderr)
		return 2
	}
	e := env{stdout: stdout, stderr: stderr}
	if !cmd.noConfig {
		cfg, err := config.Parse(getenv)
		if err != nil {
			fmt.Fprintf(stderr, "webhookd: configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
			return 1
		}
		e.cfg, e.log = cfg, newLogger(cfg, stderr)
	}
	if err := act(ctx, e); err != nil {
		fmt.Fprintf(stderr, "webhookd %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// newLogger builds the process's logger from WEBHOOKD_LOG_FORMAT and WEBHOOKD_LOG_LEVEL.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
