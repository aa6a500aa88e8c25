package queueui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// newReceiver is a webhook receiver answering 200 and signalling each request on got.
func newReceiver(t *testing.T, got chan<- struct{}) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
