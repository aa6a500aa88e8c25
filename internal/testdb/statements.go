package testdb

import (
	"context"
	"sync/atomic"
	"time"

	"gorm.io/gorm/logger"

	"github.com/webhookd/webhookd/store"
)

// StatementCounter is a GORM logger that counts the SQL statements run, for tests asserting a
// constant number of statements per request.
type StatementCounter struct {
	logger.Interface
	n atomic.Int64
}

// NewStatementCounter returns a counter at zero.
func NewStatementCounter() *StatementCounter { return &StatementCounter{Interface: logger.Discard} }

// Trace counts one statement.
func (c *StatementCounter) Trace(context.Context, time.Time, func() (string, int64), error) {
	c.n.Add(1)
}

// Reset sets the count back to zero.
func (c *StatementCounter) Reset() { c.n.Store(0) }

// N is the number of statements counted since the last Reset.
func (c *StatementCounter) N() int64 { return c.n.Load() }

// CountStatements makes every statement of st count on a new counter, and returns it.
func CountStatements(st *store.Store) *StatementCounter {
	c := NewStatementCounter()
	st.DB().Config.Logger = c
	return c
}
