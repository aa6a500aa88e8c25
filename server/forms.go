package server

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
)

// Request bodies are read here with explicit bounds, before any binder sees them.
//
// Every request body is cut at maxBodyBytes (413 in the family's error shape). Kheops form
// bodies are then parsed by readForm, not by net/http or the oapi-codegen runtime: at most
// maxFormPairs pairs, text only (UTF-8 without NUL), a single-valued key at most once, and
// indexed keys (`event[0]=a&event[1]=b`, what the generated Go client sends) only for the array
// properties of the operation's form schema, with indexes from 0 to maxFormIndex. The result is
// a plain form (indexed keys turned into repeated keys, in index order) that is handed to the
// generated binding through Request.Form: the runtime's binder (runtime.BindForm) still maps
// strings to the generated struct, but never sees an indexed key, so its allocation of
// `max index + 1` elements (`event[99999999999]` exhausted the memory) cannot be reached.
// The bounds come from the contract: formRulesOf reads the array properties of every
// form-encoded operation of the embedded OpenAPI document.
const (
	// maxBodyBytes bounds every request body.
	maxBodyBytes = 1 << 20
	// maxFormPairs bounds the number of key=value pairs of a form body.
	maxFormPairs = 1000
	// maxFormIndex is the largest index of an indexed form key.
	maxFormIndex = 999
)

// formRules are the keys of one operation's form body.
type formRules struct {
	// lists are the array properties: their key may repeat or carry an index.
	lists map[string]bool
}

// formRulesOf returns the form rules of every operation whose body is form-encoded, keyed by
// method and Echo route ("POST /albums/:album_id/webhooks").
func formRulesOf(spec *openapi3.T) map[string]formRules {
	rules := map[string]formRules{}
	for path, item := range spec.Paths.Map() {
		route := echoRoute(path)
		for method, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			mt := op.RequestBody.Value.Content.Get(echo.MIMEApplicationForm)
			if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
				continue
			}
			r := formRules{lists: map[string]bool{}}
			for name, prop := range mt.Schema.Value.Properties {
				if prop.Value != nil && prop.Value.Type.Is(openapi3.TypeArray) {
					r.lists[name] = true
				}
			}
			rules[method+" "+route] = r
		}
	}
	return rules
}

// echoRoute turns an OpenAPI path template into Echo's: /albums/{album_id} -> /albums/:album_id.
func echoRoute(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			parts[i] = ":" + p[1:len(p)-1]
		}
	}
	return strings.Join(parts, "/")
}

// tooLarge is the 413 of a body over maxBodyBytes.
func tooLarge() *apiError {
	return kheopsError(http.StatusRequestEntityTooLarge, http.StatusText(http.StatusRequestEntityTooLarge),
		fmt.Sprintf("the request body must not be larger than %d bytes", maxBodyBytes))
}

// limitBodies answers 413 to a request announcing a body over maxBodyBytes and cuts any other
// body there (reading past it fails with *http.MaxBytesError, answered 413 too).
func limitBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > maxBodyBytes {
			return tooLarge()
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, maxBodyBytes)
		}
		return next(c)
	}
}

// readBody reads a whole request body (already bounded by limitBodies). A body over the limit is
// a 413; one that cannot be read otherwise (the client went away) a 400 with detail.
func readBody(r *http.Request) ([]byte, *apiError) {
	raw, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, badInput(r.URL.Path, "the request body could not be read")
	}
	return raw, nil
}

// kheopsForms reads the form body of the form-encoded operations with readForm and hands the
// result to the generated binding (see the comment at the top of this file).
func kheopsForms(rules map[string]formRules) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			fr, ok := rules[r.Method+" "+c.Path()]
			mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
			if !ok || mt != echo.MIMEApplicationForm {
				return next(c)
			}
			raw, aerr := readBody(r)
			if aerr != nil {
				return aerr
			}
			form, aerr := readForm(string(raw), fr)
			if aerr != nil {
				return aerr
			}
			r.PostForm, r.Form = form, form
			return next(c)
		}
	}
}

// readForm parses an application/x-www-form-urlencoded body under the rules of its operation
// and returns it with indexed keys turned into repeated ones (indexed values first, in index
// order, then the repeated ones in the order sent).
func readForm(raw string, rules formRules) (url.Values, *apiError) {
	if strings.Count(raw, "&") >= maxFormPairs {
		return nil, badRequest("the form has more than %d key=value pairs", maxFormPairs)
	}
	type indexed struct {
		index int
		value string
	}
	plain := url.Values{}
	byIndex := map[string][]indexed{}
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return nil, badRequest("the form body must separate its pairs with '&', not ';'")
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(rawKey)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return nil, badRequest("the form body is not valid URL encoding")
		}
		if !textOK(key) || !textOK(value) {
			return nil, badRequest("parameters must be UTF-8 text without NUL characters")
		}
		base, index, isIndexed, aerr := formKey(key, rules)
		if aerr != nil {
			return nil, aerr
		}
		switch {
		case isIndexed:
			if seen[key] {
				return nil, badRequest("'%s' may be sent only once", key)
			}
			seen[key] = true
			byIndex[base] = append(byIndex[base], indexed{index, value})
		case !rules.lists[base] && len(plain[base]) > 0:
			return nil, badRequest("'%s' may be sent only once", base)
		default:
			plain[base] = append(plain[base], value)
		}
	}
	form := url.Values{}
	for base, items := range byIndex {
		sort.Slice(items, func(i, j int) bool { return items[i].index < items[j].index })
		for _, it := range items {
			form[base] = append(form[base], it.value)
		}
	}
	for k, vs := range plain {
		form[k] = append(form[k], vs...)
	}
	return form, nil
}

// formKey splits a form key into its name and index: `event[3]` is ("event", 3, true), `event[]`
// and `event` are ("event", 0, false). A key with brackets must name an array property and hold
// an index from 0 to maxFormIndex written in decimal without a sign or a leading zero.
func formKey(key string, rules formRules) (base string, index int, isIndexed bool, aerr *apiError) {
	open := strings.IndexByte(key, '[')
	if open < 0 {
		return key, 0, false, nil
	}
	base, inner := key[:open], key[open+1:]
	if !rules.lists[base] {
		return "", 0, false, badRequest("'%s': only list parameters take brackets", key)
	}
	inner, ok := strings.CutSuffix(inner, "]")
	if !ok {
		return "", 0, false, badRequest("'%s': the key is not closed by ']'", key)
	}
	if inner == "" {
		return base, 0, false, nil
	}
	if len(inner) > len(fmt.Sprint(maxFormIndex)) || (inner[0] == '0' && len(inner) > 1) {
		return "", 0, false, badRequest("'%s': the index must be an integer from 0 to %d", key, maxFormIndex)
	}
	for _, ch := range inner {
		if ch < '0' || ch > '9' {
			return "", 0, false, badRequest("'%s': the index must be an integer from 0 to %d", key, maxFormIndex)
		}
		index = index*10 + int(ch-'0')
	}
	return base, index, true, nil
}
