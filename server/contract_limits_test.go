package server_test

import (
	"testing"

	"github.com/webhookd/webhookd/gen"
)

// TestContractListsLimits checks that the contract documents the answers every operation can
// give whatever its handler: 503 when the database is unavailable, and 413 for a body over
// 1 MiB on every operation that takes a body.
func TestContractListsLimits(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			// /livez answers without the database (liveness must not depend on it).
			if op.Responses.Status(503) == nil && path != "/livez" {
				t.Errorf("%s %s (%s) does not list 503", method, path, op.OperationID)
			}
			if op.RequestBody != nil && op.Responses.Status(413) == nil {
				t.Errorf("%s %s (%s) takes a body but does not list 413", method, path, op.OperationID)
			}
		}
	}
}
