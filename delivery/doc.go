// Package delivery sends webhook requests: it signs request bodies for the
// receivers' verification schemes (Kheops, Nursa and Standard Webhooks),
// dials targets through a dialer that refuses private, loopback and other
// non-public addresses (server-side request forgery protection), builds the
// HTTP client used for deliveries (no redirects, no proxy, a whole-request
// timeout, a capped response body) and decides when and whether a failed
// delivery is tried again.
package delivery
