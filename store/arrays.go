package store

import (
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// Statements over a batch of rows take the batch as PostgreSQL arrays (one parameter per
// column, unnest or = ANY), so that their text does not depend on the batch's size: each
// connection parses and prepares them once, whatever the sizes of the batches that follow.
// SQLite has no arrays; there the rows are spelled out as a VALUES list or an IN list.

// pgArray is v as a one-dimensional PostgreSQL array argument. (GORM would expand a slice into
// a list of arguments; it passes this struct on, and pgx encodes it in binary.)
func pgArray[T any](v []T) pgtype.Array[T] {
	return pgtype.Array[T]{Elements: v, Dims: []pgtype.ArrayDimension{{Length: int32(len(v)), LowerBound: 1}}, Valid: true}
}

// anyOf returns the condition "column is one of values", and its arguments: one array
// parameter on PostgreSQL, an IN list on SQLite.
func (s *Store) anyOf(column string, values []string) (string, []any) {
	if s.dialect == Postgres {
		return column + " = ANY(?::text[])", []any{pgArray(values)}
	}
	if len(values) == 0 {
		return "FALSE", nil
	}
	return column + " IN (?" + strings.Repeat(", ?", len(values)-1) + ")", stringArgs(values)
}

func stringArgs(values []string) []any {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return args
}
