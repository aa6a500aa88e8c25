package server

import (
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/webhookd/webhookd/gen"
)

// TestFormRulesMatchRoutes checks that the form rules read from the contract are keyed the way
// kheopsForms looks them up (method and Echo route), one per form-encoded operation: a rule
// that matched no route would hand that operation's form to the generated binder unchecked.
func TestFormRulesMatchRoutes(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	rules := formRulesOf(spec)
	forms := 0
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value.Content.Get(echo.MIMEApplicationForm) != nil {
				forms++
			}
		}
	}
	if len(rules) != forms || forms == 0 {
		t.Fatalf("%d form rules for %d form-encoded operations", len(rules), forms)
	}
	h, err := New(Options{}).Handler()
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, r := range h.(*echo.Echo).Routes() {
		routes[r.Method+" "+r.Path] = true
	}
	for key := range rules {
		if !routes[key] {
			t.Errorf("form rules %q match no route", key)
		}
	}
	if !rules["POST /albums/:album_id/webhooks"].lists["event"] {
		t.Errorf("event is not a list key of webhook creation: %v", rules)
	}
}
