package store

// facilitySchema is migration 2: the webhooks of the facility API, of two kinds (facility and
// user), with their lists in join tables so that "the facility webhooks of facility X
// subscribed to event Y" is one indexed query on both databases.
//
// The lists keep the caller's order in a position column. Events and facilities are unique per
// webhook (their lookup indexes are unique); secrets are at most two and may repeat.
const facilitySchema = `
CREATE TABLE facility_webhooks (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL CHECK (kind IN ('facility', 'user')),
	client_id  TEXT NOT NULL,
	url        TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX facility_webhooks_client_kind_created ON facility_webhooks (client_id, kind, created_at);

CREATE TABLE facility_webhook_events (
	webhook_id TEXT NOT NULL REFERENCES facility_webhooks (id) ON DELETE CASCADE,
	position   INTEGER NOT NULL,
	event      TEXT NOT NULL,
	PRIMARY KEY (webhook_id, position)
);
CREATE UNIQUE INDEX facility_webhook_events_event ON facility_webhook_events (event, webhook_id);

CREATE TABLE facility_webhook_facilities (
	webhook_id  TEXT NOT NULL REFERENCES facility_webhooks (id) ON DELETE CASCADE,
	position    INTEGER NOT NULL,
	facility_id TEXT NOT NULL,
	PRIMARY KEY (webhook_id, position)
);
CREATE UNIQUE INDEX facility_webhook_facilities_facility ON facility_webhook_facilities (facility_id, webhook_id);

CREATE TABLE facility_webhook_secrets (
	webhook_id TEXT NOT NULL REFERENCES facility_webhooks (id) ON DELETE CASCADE,
	position   INTEGER NOT NULL,
	secret     TEXT NOT NULL,
	PRIMARY KEY (webhook_id, position)
);
`
