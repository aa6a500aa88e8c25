package delivery

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
)

// blockingListener stands for River's SQLite listener: it waits for its context, or returns
// the notification sent on next.
type blockingListener struct {
	riverdriver.Listener
	next chan *riverdriver.Notification
}

func (l *blockingListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	select {
	case n := <-l.next:
		return n, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestWakeListener(t *testing.T) {
	inner := &blockingListener{next: make(chan *riverdriver.Notification, 1)}
	d := &wakeDriver{wake: make(chan struct{}, 1)}
	l := &wakeListener{Listener: inner, wake: d.wake}
	wait := func(ctx context.Context) (*riverdriver.Notification, error, time.Duration) {
		start := time.Now()
		n, err := l.WaitForNotification(ctx)
		return n, err, time.Since(start)
	}

	// A wake-up while the database listener waits is reported at once as an insert.
	go func() { time.Sleep(20 * time.Millisecond); d.Wake() }()
	n, err, took := wait(context.Background())
	if err != nil || *n != insertNotification || took > time.Second {
		t.Fatalf("woken while waiting: %+v %v after %s, want the insert notification", n, err, took)
	}
	// Wake-ups made before the wait, several of them, are reported once.
	d.Wake()
	d.Wake()
	if n, err, _ := wait(context.Background()); err != nil || *n != insertNotification {
		t.Fatalf("woken before waiting: %+v %v", n, err)
	}
	// The database's notifications still come through.
	control := &riverdriver.Notification{Topic: "river_control", Payload: "{}"}
	inner.next <- control
	if n, err, _ := wait(context.Background()); err != nil || n != control {
		t.Fatalf("database notification: %+v %v", n, err)
	}
	// Cancelling the caller's context ends the wait with its error.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err, _ := wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled: %v, want the context's error", err)
	}
}
