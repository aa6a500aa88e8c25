package store

// deliverySchema is migration 3: what the delivery engine needs beyond the foundation — series
// waiting for their coalesced new_series notification, the ingested facility and user events
// (with their idempotency keys), and the index the log purge runs on.
const deliverySchema = `
CREATE TABLE pending_new_series (
	album_id   TEXT NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
	study_uid  TEXT NOT NULL,
	series_uid TEXT NOT NULL,
	source     TEXT NOT NULL,
	added_at   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (album_id, study_uid, series_uid)
);

CREATE TABLE events (
	id              TEXT PRIMARY KEY,
	kind            TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	facility_id     TEXT,
	client_id       TEXT,
	publisher       TEXT NOT NULL,
	idempotency_key TEXT,
	data            TEXT NOT NULL,
	deliveries      INTEGER NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX events_idempotency ON events (publisher, idempotency_key);

CREATE INDEX deliveries_family_created ON deliveries (family, created_at);
`
