package server

import (
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/webhookd/webhookd/gen"
)

// webhookList is the 200 answer of ListWebhooks: the generated response, written as the
// generated code writes it (the same headers and the same bytes as encoding/json, a test
// checks) by appendWebhooks into a reused buffer, without encoding/json's reflection. A page of
// 100 webhooks is some 45 KB: encoding it was an eighth of the list's CPU time.
type webhookList struct {
	gen.ListWebhooks200JSONResponse
	buffers *bufferPool
}

// VisitListWebhooksResponse writes the response.
func (r webhookList) VisitListWebhooksResponse(w http.ResponseWriter) error {
	buf := r.buffers.get()
	defer r.buffers.put(buf)
	*buf = append(appendWebhooks((*buf)[:0], r.Body), '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Total-Count", strconv.Itoa(r.Headers.XTotalCount))
	w.Header().Set("Content-Length", strconv.Itoa(len(*buf)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(*buf)
	return err
}

// bufferPool keeps the buffers of encoded responses for the next ones; buffers grown past
// maxPooledBuffer (a list without a limit) are left to the garbage collector.
type bufferPool struct{ pool sync.Pool }

const maxPooledBuffer = 1 << 20

func (p *bufferPool) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func (p *bufferPool) put(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		p.pool.Put(b)
	}
}

// appendWebhooks appends the JSON array of hooks, as encoding/json encodes it.
func appendWebhooks(b []byte, hooks []gen.Webhook) []byte {
	if hooks == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range hooks {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendWebhook(b, &hooks[i])
	}
	return append(b, ']')
}

// appendWebhook appends w's JSON object: its fields in the order of the struct, those tagged
// omitempty left out when empty, as encoding/json does.
func appendWebhook(b []byte, w *gen.Webhook) []byte {
	b = append(b, '{')
	if w.DisabledReason != nil {
		b = append(b, `"disabled_reason":`...)
		b = appendJSONString(b, *w.DisabledReason)
		b = append(b, ',')
	}
	b = append(b, `"enabled":`...)
	b = strconv.AppendBool(b, w.Enabled)
	b = append(b, `,"events":`...)
	if w.Events == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, e := range w.Events {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, string(e))
		}
		b = append(b, ']')
	}
	b = append(b, `,"id":`...)
	b = appendJSONString(b, w.Id)
	if w.LastTriggers != nil {
		b = append(b, `,"last_triggers":`...)
		if *w.LastTriggers == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i, t := range *w.LastTriggers {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"id":`...)
				b = appendJSONString(b, t.Id)
				b = append(b, `,"status":`...)
				b = appendJSONString(b, string(t.Status))
				b = append(b, '}')
			}
			b = append(b, ']')
		}
	}
	b = append(b, `,"name":`...)
	b = appendJSONString(b, w.Name)
	b = append(b, `,"number_of_triggers":`...)
	b = strconv.AppendInt(b, int64(w.NumberOfTriggers), 10)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, w.Url)
	b = append(b, `,"use_secret":`...)
	b = strconv.AppendBool(b, w.UseSecret)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, escaped as encoding/json escapes it (HTML
// characters, U+2028 and U+2029 included; invalid UTF-8 becomes U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
