package store

// healthSchema is migration 5: what resending and endpoint health need.
//
//   - facility and user webhooks gain enabled (album webhooks have it), and both kinds the
//     reason the service disabled them (NULL when it did not);
//   - a delivery's resend flag is set while an extra attempt asked by resend or recover is
//     queued, so that asking again adds nothing;
//   - webhook_health holds, per webhook and only once something went wrong, its failing streak
//     (since when every attempt failed, and how many deliveries ended failed in it), the time
//     before which nothing is sent to it (Retry-After, pace) and its pace (the least time
//     between two attempts, while it answers 429/503 without Retry-After).
const healthSchema = `
ALTER TABLE album_webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE facility_webhooks ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE facility_webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE deliveries ADD COLUMN resend BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE webhook_health (
	webhook_id        TEXT PRIMARY KEY,
	failing_since     TIMESTAMPTZ,
	failed_deliveries INTEGER NOT NULL DEFAULT 0,
	not_before        TIMESTAMPTZ,
	pace_ms           BIGINT NOT NULL DEFAULT 0
);
`
