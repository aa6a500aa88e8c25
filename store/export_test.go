package store

import "context"

// MigrateTo applies the migrations up to version, for tests that upgrade an older schema.
func (s *Store) MigrateTo(ctx context.Context, version int) error { return s.migrateTo(ctx, version) }
