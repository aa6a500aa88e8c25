// Package store keeps webhookd's state with GORM: users, albums and their series, the webhooks
// of both API families, events and the deliveries made for them, with their resends
// (recover.go) and the webhooks' endpoint health (health.go).
//
// PostgreSQL is the production database; an embedded pure-Go SQLite is the default. Both run the
// same versioned migrations (see Migrate). Every lookup path has an index, and list queries run a
// constant number of statements whatever the page size.
package store
