// Package payload builds the JSON bodies of the webhook requests of both families, once, when a
// delivery is created: every attempt of a delivery then sends the same bytes.
package payload

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// KheopsUser is a user as Kheops describes one in its requests.
type KheopsUser struct {
	Email   string `json:"email"`
	Name    string `json:"name"`
	Sub     string `json:"sub"`
	IsAdmin bool   `json:"is_admin"`
}

// KheopsSeries is a series of a study in a Kheops request.
type KheopsSeries struct {
	SeriesUID   string `json:"series_uid"`
	RetrieveURL string `json:"retrieve_url,omitempty"`
}

// KheopsStudy is a study with some of its series in a Kheops request.
type KheopsStudy struct {
	StudyUID    string         `json:"study_uid"`
	RetrieveURL string         `json:"retrieve_url,omitempty"`
	Series      []KheopsSeries `json:"series"`
}

// Kheops is the body of an album webhook request (reference/kheops.md, "The request Kheops
// sends"). The per-event members are nil for the other events and left out.
type Kheops struct {
	Host            string     `json:"host"`
	AlbumID         string     `json:"album_id"`
	EventTime       string     `json:"event_time"`
	Source          KheopsUser `json:"source"`
	IsManualTrigger bool       `json:"is_manual_trigger"`

	NewUser *KheopsUser `json:"new_user,omitempty"`

	ImportSource string       `json:"import_source,omitempty"`
	UpdatedStudy *KheopsStudy `json:"updated_study,omitempty"`

	RemoveAllSeries *bool        `json:"remove_all_series,omitempty"`
	RemovedStudy    *KheopsStudy `json:"removed_study,omitempty"`
}

// EventTime formats the time of an event as the requests carry it.
func EventTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// NewSeriesStudy describes added series with the DICOMweb URLs a receiver retrieves them from.
func NewSeriesStudy(host, studyUID string, seriesUIDs []string) *KheopsStudy {
	base := strings.TrimRight(host, "/") + "/api/studies/" + studyUID
	st := &KheopsStudy{StudyUID: studyUID, RetrieveURL: base, Series: []KheopsSeries{}}
	for _, s := range seriesUIDs {
		st.Series = append(st.Series, KheopsSeries{SeriesUID: s, RetrieveURL: base + "/series/" + s})
	}
	return st
}

// RemovedStudy describes removed series.
func RemovedStudy(studyUID string, seriesUIDs []string) *KheopsStudy {
	st := &KheopsStudy{StudyUID: studyUID, Series: []KheopsSeries{}}
	for _, s := range seriesUIDs {
		st.Series = append(st.Series, KheopsSeries{SeriesUID: s})
	}
	return st
}

// Facility is the body of a facility or user webhook request.
type Facility struct {
	Data      json.RawMessage `json:"data"`
	EventType string          `json:"eventType"`
}

// Marshal encodes a body compactly, without HTML escaping, as it goes on the wire.
func Marshal(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode payload: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
