package server

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

// Validation rules of Kheops parameters (reference/kheops.md, "Validation").
const (
	maxURLLength    = 1024
	maxNameLength   = 255
	maxSecretLength = 1024
	maxDescLength   = 2048
)

func validateURL(raw string) *apiError {
	if raw == "" {
		return badRequest("'url' is required")
	}
	if len(raw) > maxURLLength {
		return badRequest("'url' is longer than %d characters", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return badRequest("'url' must be an absolute http or https URL with a host")
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return badRequest("'url' must use http or https, not %q", u.Scheme)
	}
	if !validURLHost(u) {
		return badRequest("'url' must name a valid host: a domain name or an IP address, and a port in 1..65535 when one is given")
	}
	return nil
}

func validateName(field, raw string) (string, *apiError) {
	name := strings.TrimSpace(raw)
	if name == "" {
		return "", badRequest("'%s' is required and must not be blank", field)
	}
	if utf8.RuneCountInString(name) > maxNameLength {
		return "", badRequest("'%s' is longer than %d characters", field, maxNameLength)
	}
	return name, nil
}

func validateSecret(secret string) *apiError {
	if secret == "" || utf8.RuneCountInString(secret) > maxSecretLength {
		return badRequest("'secret' must be 1 to %d characters", maxSecretLength)
	}
	return nil
}

// parseEvents reads a list of event names; field names the parameter in errors.
func parseEvents[T ~string](field string, values []T) (store.EventSet, *apiError) {
	var set store.EventSet
	for _, v := range values {
		e, err := store.ParseKheopsEvent(string(v))
		if err != nil {
			return 0, badRequest("'%s': %v", field, err)
		}
		set = set.With(e)
	}
	return set, nil
}

// page validates limit and offset: integers >= 0; no limit and offset 0 when absent.
func page(limit, offset *int) (store.Page, *apiError) {
	p := store.Page{Limit: -1}
	if limit != nil {
		if *limit < 0 {
			return p, badRequest("'limit' must be an integer >= 0")
		}
		p.Limit = *limit
	}
	if offset != nil {
		if *offset < 0 {
			return p, badRequest("'offset' must be an integer >= 0")
		}
		p.Offset = *offset
	}
	return p, nil
}

// webhookPatch validates a PATCH form (seed 000) into a store patch.
func webhookPatch(f *gen.WebhookPatchForm) (store.WebhookPatch, *apiError) {
	var p store.WebhookPatch
	if f == nil {
		return p, nil
	}
	if f.Event != nil && (f.AddEvent != nil || f.RemoveEvent != nil) {
		return p, badRequest("'event' and 'add_event'/'remove_event' cannot be used together")
	}
	if f.Url != nil {
		if err := validateURL(*f.Url); err != nil {
			return p, err
		}
		p.URL = f.Url
	}
	if f.Name != nil {
		name, err := validateName("name", *f.Name)
		if err != nil {
			return p, err
		}
		p.Name = &name
	}
	if f.Secret != nil {
		if *f.Secret != "" {
			if err := validateSecret(*f.Secret); err != nil {
				return p, err
			}
		}
		p.Secret = f.Secret
	}
	if f.Event != nil {
		var set store.EventSet
		if events := *f.Event; !(len(events) == 1 && events[0] == "") {
			var err *apiError
			if set, err = parseEvents("event", events); err != nil {
				return p, err
			}
		}
		p.Events = &set
	}
	var err *apiError
	if f.AddEvent != nil {
		if p.Add, err = parseEvents("add_event", *f.AddEvent); err != nil {
			return p, err
		}
	}
	if f.RemoveEvent != nil {
		if p.Remove, err = parseEvents("remove_event", *f.RemoveEvent); err != nil {
			return p, err
		}
	}
	p.Enabled = f.Enabled
	return p, nil
}
