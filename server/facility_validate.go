package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

// The request bodies of the facility and user webhooks are validated here, on the raw JSON and
// before the generated binding (which would stop at the first problem), so that a 400 lists
// every failed rule with the messages class-validator gives the platform we follow:
//
//   - Unknown properties come first, in the body's order: "property <name> should not exist"
//     (class-validator's whitelist runs before the property rules).
//   - Then the properties in the order url, events, facilities, secrets, enabled (PATCH only), each with its messages
//     in the order of the seed's example: the URL rule, then the type rule for url; the size
//     rule, the array rule, then the rule of each value for the lists.
//   - A property that is left out or null is not checked, except url and events on create: they
//     are required, and a missing one fails every one of its rules (as class-validator does for
//     undefined).
//   - A list that is not an array fails its size and array rules; like class-validator's "each"
//     rules, a single value is then checked as if it were the only element.
//
// Not from class-validator, because the platform's documentation is silent and accepting
// them would store what the API cannot return: "facilities must be an array", "each value in
// secrets should not be empty" (an empty secret cannot sign), and NUL characters are refused in
// facilities and secrets (PostgreSQL cannot store them).

// webhookBodyRules are the rules of the body of one operation.
type webhookBodyRules struct {
	events     []string // the family's event values, in the documented order
	facilities bool     // whether the family has facilities
	create     bool     // url and events required
}

var (
	facilityEventValues = stringsOf([]gen.FacilityEvent{gen.FacilityEventShiftRequestCreated,
		gen.FacilityEventShiftRequestCancelled, gen.FacilityEventShiftReportCreated,
		gen.FacilityEventShiftScheduledCancelled, gen.FacilityEventShiftScheduled, gen.FacilityEventShiftCreated,
		gen.FacilityEventShiftReportAcceptedAutomatically, gen.FacilityEventShiftReportAccepted,
		gen.FacilityEventShiftReportRejected, gen.FacilityEventShiftCancelled, gen.FacilityEventAll})
	userEventValues = stringsOf([]gen.UserEvent{gen.UserEventAll, gen.UserEventFacilityUserConnectionAccepted,
		gen.UserEventFacilityUserConnectionRejected, gen.UserEventFacilityCreationAccepted,
		gen.UserEventFacilityCreationRejected})
)

// webhookBodyRoutes maps the method and route of each operation with a webhook body to its rules.
var webhookBodyRoutes = map[string]webhookBodyRules{
	http.MethodPost + " /api/v2/public/webhooks/facility":             {events: facilityEventValues, facilities: true, create: true},
	http.MethodPatch + " /api/v2/public/webhooks/facility/:webhookId": {events: facilityEventValues, facilities: true},
	http.MethodPost + " /api/v2/public/webhooks/user":                 {events: userEventValues, create: true},
	http.MethodPatch + " /api/v2/public/webhooks/user/:webhookId":     {events: userEventValues},
}

// validateWebhookBodies checks the JSON body of the facility and user webhook operations and
// answers 400 with every failed rule. A valid body is handed on to the generated binding as
// sent (an empty body as {}), with its Content-Type normalised.
func validateWebhookBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		rules, ok := webhookBodyRoutes[r.Method+" "+c.Path()]
		if !ok {
			return next(c)
		}
		raw, keys, body, aerr := readJSONObject(r)
		if aerr != nil {
			return aerr
		}
		if msgs := validateWebhookBody(keys, body, rules); len(msgs) > 0 {
			return nestValidation(msgs)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			raw = []byte("{}")
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
		r.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		return next(c)
	}
}

// readJSONObject reads a bounded facility-family body and decodes it as decodeWebhookBody does;
// a body that is not a JSON object is a 400 in the NestJS shape. raw is the body as sent.
func readJSONObject(r *http.Request) ([]byte, []string, map[string]any, *apiError) {
	raw, aerr := readBody(r)
	if aerr != nil {
		return nil, nil, nil, aerr
	}
	keys, body, err := decodeWebhookBody(r.Header.Get(echo.HeaderContentType), raw)
	if err != nil {
		return nil, nil, nil, nestValidation([]string{err.Error()})
	}
	return raw, keys, body, nil
}

// decodeWebhookBody parses a request body that must be a JSON object. It returns the object's
// keys in the order they first appear (a repeated key keeps its last value, as in
// JavaScript). An empty body is an empty object, whatever its Content-Type.
func decodeWebhookBody(contentType string, raw []byte) ([]string, map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, map[string]any{}, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != echo.MIMEApplicationJSON {
		return nil, nil, errors.New("the request body must be JSON, sent with Content-Type: application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, nil, errors.New("the request body must be encoded in UTF-8 (Content-Type: application/json; charset=utf-8)")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, nil, fmt.Errorf("the request body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
		}
		return nil, nil, fmt.Errorf("the request body is not valid JSON: %s", err.Error())
	}
	body, ok := v.(map[string]any)
	if !ok {
		return nil, nil, errors.New("the request body must be a JSON object")
	}
	// The order of the keys, which the map lost.
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return nil, nil, fmt.Errorf("the request body is not valid JSON: %s", err.Error())
	}
	keys := make([]string, 0, len(body))
	seen := make(map[string]bool, len(body))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("the request body is not valid JSON: %s", err.Error())
		}
		key, _ := tok.(string)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, nil, fmt.Errorf("the request body is not valid JSON: %s", err.Error())
		}
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	return keys, body, nil
}

// validateWebhookBody returns every failed rule of a body, in the order described at the top
// of this file; none when it is valid.
func validateWebhookBody(keys []string, body map[string]any, rules webhookBodyRules) []string {
	msgs := []string{}
	known := map[string]bool{"url": true, "events": true, "secrets": true, "facilities": rules.facilities,
		"enabled": !rules.create}
	for _, k := range keys {
		if !known[k] {
			msgs = append(msgs, "property "+k+" should not exist")
		}
	}
	// present reports whether a property is to be checked: sent and not null, or required.
	present := func(name string, required bool) (any, bool) {
		v, ok := body[name]
		if (!ok || v == nil) && !required {
			return nil, false
		}
		return v, true
	}

	if v, ok := present("url", rules.create); ok {
		s, isString := v.(string)
		if !isString || !isHTTPSURL(s) {
			msgs = append(msgs, "should be a secure URL with HTTPS")
		}
		if !isString {
			msgs = append(msgs, "url must be a string")
		}
	}

	if v, ok := present("events", rules.create); ok {
		list, isArray := v.([]any)
		if !isArray || len(list) < 1 {
			msgs = append(msgs, "events must contain at least 1 elements")
		}
		if !isArray {
			msgs = append(msgs, "events must be an array")
		}
		if !eachValue(v, func(e any) bool { s, ok := e.(string); return ok && slices.Contains(rules.events, s) }) {
			msgs = append(msgs, "each value in events must be one of the following values: "+strings.Join(rules.events, ", "))
		}
	}

	if v, ok := present("facilities", false); ok && rules.facilities {
		if _, isArray := v.([]any); !isArray {
			msgs = append(msgs, "facilities must be an array")
		}
		if !eachValue(v, func(e any) bool { _, ok := e.(string); return ok }) {
			msgs = append(msgs, "each value in facilities must be a string")
		}
		if !eachValue(v, func(e any) bool { s, _ := e.(string); return !strings.ContainsRune(s, 0) }) {
			msgs = append(msgs, "each value in facilities must not contain NUL characters")
		}
	}

	if v, ok := present("secrets", false); ok {
		list, isArray := v.([]any)
		if !isArray || len(list) > store.MaxFacilityWebhookSecrets {
			msgs = append(msgs, fmt.Sprintf("secrets must contain no more than %d elements", store.MaxFacilityWebhookSecrets))
		}
		if !isArray {
			msgs = append(msgs, "secrets must be an array")
		}
		if !eachValue(v, func(e any) bool { _, ok := e.(string); return ok }) {
			msgs = append(msgs, "each value in secrets must be a string")
		}
		if !eachValue(v, func(e any) bool { s, ok := e.(string); return !ok || s != "" }) {
			msgs = append(msgs, "each value in secrets should not be empty")
		}
		if !eachValue(v, func(e any) bool { s, _ := e.(string); return !strings.ContainsRune(s, 0) }) {
			msgs = append(msgs, "each value in secrets must not contain NUL characters")
		}
	}

	if v, ok := present("enabled", false); ok && !rules.create {
		if _, isBool := v.(bool); !isBool {
			msgs = append(msgs, "enabled must be a boolean value")
		}
	}
	return msgs
}

// eachValue applies a rule the way class-validator's {each: true} does: to every element of an
// array, or to the value itself when it is not one.
func eachValue(v any, ok func(any) bool) bool {
	list, isArray := v.([]any)
	if !isArray {
		return ok(v)
	}
	for _, e := range list {
		if !ok(e) {
			return false
		}
	}
	return true
}

// maxWebhookURLLength is the longest url accepted (class-validator's isURL limit).
const maxWebhookURLLength = 2083

// isHTTPSURL tells whether s is an absolute https URL with a host: a domain name or an IP
// address, and a port when one is given. A top-level domain is not required.
func isHTTPSURL(s string) bool {
	if s == "" || len(s) > maxWebhookURLLength || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || !strings.EqualFold(u.Scheme, "https") {
		return false
	}
	return validURLHost(u)
}

// validURLHost tells whether u has a host that can be dialled: a domain name of valid labels or
// an IP address, and a port in 1..65535 when one is given. A top-level domain is not required.
func validURLHost(u *url.URL) bool {
	if u.Opaque != "" || u.Host == "" {
		return false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return false
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return true
	}
	if strings.HasPrefix(u.Host, "[") || len(host) > 253 {
		return false // a bracketed host that is not an IPv6 address, or too long a name
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > unicode.MaxASCII && unicode.IsLetter(r) || r > unicode.MaxASCII && unicode.IsDigit(r)) {
				return false
			}
		}
	}
	return true
}
