package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// httptestGet serves one GET / through h and returns the body.
func httptestGet(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}
