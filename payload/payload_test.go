package payload

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"no HTML escaping, no trailing newline", map[string]string{"url": "https://x.org/?a=1&b=<2>"}, `{"url":"https://x.org/?a=1&b=<2>"}`},
		{"facility body keeps data as sent", Facility{Data: json.RawMessage(`{"b":1,"a":2}`), EventType: "shift.created"},
			`{"data":{"b":1,"a":2},"eventType":"shift.created"}`},
		{"kheops keys in Kheops order, empty event members left out",
			Kheops{Host: "h", AlbumID: "a", EventTime: "t", Source: KheopsUser{Sub: "s"}},
			`{"host":"h","album_id":"a","event_time":"t","source":{"email":"","name":"","sub":"s","is_admin":false},"is_manual_trigger":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.v)
			if err != nil || got != tt.want {
				t.Errorf("got %s (%v)\nwant %s", got, err, tt.want)
			}
		})
	}
}

func TestStudies(t *testing.T) {
	st := NewSeriesStudy("https://kheops.example.org/", "1.2", []string{"1.2.3"})
	if st.RetrieveURL != "https://kheops.example.org/api/studies/1.2" || st.Series[0].RetrieveURL != "https://kheops.example.org/api/studies/1.2/series/1.2.3" {
		t.Errorf("retrieve urls: %+v", st)
	}
	if r := RemovedStudy("1.2", nil); r.Series == nil || r.RetrieveURL != "" {
		t.Errorf("removed study without series must carry series: [] and no url: %+v", r)
	}
}

func TestEventTime(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 41, 29, 2_500_000, time.FixedZone("CET", 3600))
	if got := EventTime(at); got != "2026-11-23T11:41:29.002Z" {
		t.Errorf("EventTime = %s", got)
	}
}
