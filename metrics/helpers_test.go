package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// newReceiver is a webhook receiver answering 200 and signalling each request on got.
func newReceiver(t *testing.T, got chan<- struct{}) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// httptestGet serves one GET / through h and returns the body.
func httptestGet(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}
