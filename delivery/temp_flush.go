package delivery

import (
	"context"
	"errors"

	"github.com/webhookd/webhookd/store"
)

// TEMP until store.FlushNewSeries lands.
func flushNewSeries(ctx context.Context, st *store.Store, album, study string) error {
	return errors.New("not yet")
}
