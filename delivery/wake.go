package delivery

import (
	"context"
	"errors"
	"sync"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// wakeDriver is River's SQLite driver whose listener also hears in-process wake-ups.
//
// SQLite has no LISTEN/NOTIFY: River's SQLite listener polls a notification table every 50 ms,
// and River wakes its producers directly only after inserts made outside a transaction. Jobs
// are inserted in the store's transactions, so without this they would wait up to 50 ms (plus
// the fetch) for their first attempt. Wake, called by the store once such a transaction has
// committed, makes the listener report an insert in webhookd's queue at once. SQLite serves a
// single process (see the README), so an in-process wake-up reaches every producer.
//
// It wraps riverdriver.Listener, which River documents as unstable: River is pinned in go.mod,
// and TestWakeListener and the latency test fail if an upgrade breaks it.
type wakeDriver struct {
	*riversqlite.Driver
	wake chan struct{}
}

func newWakeDriver(d *riversqlite.Driver) *wakeDriver {
	return &wakeDriver{Driver: d, wake: make(chan struct{}, 1)}
}

// Wake reports new jobs to the listener; wake-ups that come while one is pending merge into it.
func (d *wakeDriver) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// GetListener returns River's SQLite listener with the wake-ups added.
func (d *wakeDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &wakeListener{Listener: d.Driver.GetListener(params), wake: d.wake}
}

// insertNotification is what River's producers of webhookd's queue take as "jobs were inserted".
var insertNotification = riverdriver.Notification{Topic: "river_insert", Payload: `{"queue":"` + queueName + `"}`}

// errWoken interrupts the inner listener's wait.
var errWoken = errors.New("woken")

type wakeListener struct {
	riverdriver.Listener
	wake chan struct{}
}

// WaitForNotification returns the next notification from the database, or an insert
// notification as soon as Wake is called.
func (l *wakeListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	select {
	case <-l.wake:
		n := insertNotification
		return &n, nil
	default:
	}
	inner, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		woken bool
		done  = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-l.wake:
			woken = true
			cancel(errWoken)
		case <-done:
		}
	}()
	n, err := l.Listener.WaitForNotification(inner)
	close(done)
	wg.Wait()
	switch {
	case woken && err == nil:
		// A notification and a wake-up crossed: report this one, keep the wake-up for the next call.
		select {
		case l.wake <- struct{}{}:
		default:
		}
		return n, nil
	case woken && ctx.Err() == nil:
		n := insertNotification
		return &n, nil
	}
	return n, err
}
