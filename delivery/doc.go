// Package delivery sends webhook requests durably.
//
// The Engine runs on River (a job queue in the service's own database: PostgreSQL, or SQLite
// for the embedded default). The store calls the engine inside the transaction that records an
// event, so a job exists if and only if the change committed. Each job is one attempt of one
// delivery: the worker builds and signs the request (Kheops, Nursa and Standard Webhooks
// schemes), sends it through a client that refuses non-public addresses at connect time
// (server-side request forgery protection), records the attempt, and in the same transaction
// schedules the next attempt when the retry policy says so. A process killed mid-attempt leaves
// the job running; River rescues it and the attempt is made again (at-least-once; the delivery
// id, stable across attempts, lets receivers de-duplicate).
//
// Each answer also tells the webhook's health (health.go): 410 Gone and sustained failure
// disable the webhook, 429/503 postpone or pace it, and a limiter bounds the attempts in flight
// per webhook (limiter.go). An attempt that may not run yet is snoozed, not retried: River runs
// it again later without counting it.
//
// On PostgreSQL, the first attempt of a delivery to a healthy webhook is made by the process
// that published it, without River fetching its job (direct dispatch, direct.go); its job is
// inserted running, so River rescues it if the process dies, and deleted with the recording.
package delivery
