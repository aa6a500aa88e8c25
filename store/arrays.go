package store

import "github.com/jackc/pgx/v5/pgtype"

// A publish batch's statements take the batch as PostgreSQL arrays (one parameter per column,
// unnest), so that their text does not depend on the batch's size: each connection parses and
// prepares them once, whatever the sizes of the batches that follow. SQLite has no arrays; there
// the rows are spelled out as a VALUES list.
//
// The attempts' batches (attempt_batch.go) keep VALUES and IN lists on PostgreSQL too: with
// arrays, single deliveries at 1,000 events/s to one webhook were slower to reach their
// receiver (p50 160-2,091 ms against 55-223 ms in back-to-back runs), for no gain in a burst.

// pgArray is v as a one-dimensional PostgreSQL array argument. (GORM would expand a slice into
// a list of arguments; it passes this struct on, and pgx encodes it in binary.)
func pgArray[T any](v []T) pgtype.Array[T] {
	return pgtype.Array[T]{Elements: v, Dims: []pgtype.ArrayDimension{{Length: int32(len(v)), LowerBound: 1}}, Valid: true}
}
