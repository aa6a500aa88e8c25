package store

import (
	"fmt"
	"strings"
)

// KheopsEvent is an album event.
type KheopsEvent string

// The album events, in the order Kheops lists them.
const (
	EventNewSeries    KheopsEvent = "new_series"
	EventRemoveSeries KheopsEvent = "remove_series"
	EventNewUser      KheopsEvent = "new_user"
	EventDeleteAlbum  KheopsEvent = "delete_album"
)

// KheopsEvents lists the album events in Kheops order.
var KheopsEvents = []KheopsEvent{EventNewSeries, EventRemoveSeries, EventNewUser, EventDeleteAlbum}

// EventSet is a set of album events, stored as a bit mask (bit i = KheopsEvents[i]).
type EventSet int

// ParseKheopsEvent matches an event name case-insensitively.
func ParseKheopsEvent(s string) (KheopsEvent, error) {
	for _, e := range KheopsEvents {
		if strings.EqualFold(s, string(e)) {
			return e, nil
		}
	}
	return "", fmt.Errorf("unknown event %q (expected new_series, remove_series, new_user or delete_album)", s)
}

func (e KheopsEvent) bit() EventSet {
	for i, k := range KheopsEvents {
		if k == e {
			return 1 << i
		}
	}
	return 0
}

// With returns the set plus e.
func (s EventSet) With(e KheopsEvent) EventSet { return s | e.bit() }

// Without returns the set minus e.
func (s EventSet) Without(e KheopsEvent) EventSet { return s &^ e.bit() }

// Has tells whether e is in the set.
func (s EventSet) Has(e KheopsEvent) bool { return s&e.bit() != 0 }

// List returns the events in Kheops order.
func (s EventSet) List() []KheopsEvent {
	out := []KheopsEvent{}
	for _, e := range KheopsEvents {
		if s.Has(e) {
			out = append(out, e)
		}
	}
	return out
}
