package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/webhookd/webhookd/store"
)

// result is what one attempt produced.
type result struct {
	attempt store.DeliveryAttempt
	err     error
	// retryAfter is the response's Retry-After, when hasRetryAfter.
	retryAfter    time.Duration
	hasRetryAfter bool
}

// Request builds the HTTP request of attempt n of delivery d at time now: the stored body and
// the headers of the delivery's family, signed with each of its secrets.
func Request(ctx context.Context, d store.Delivery, n int, now time.Time) (*http.Request, error) {
	body := []byte(d.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var secrets []string
	_ = json.Unmarshal([]byte(d.Secrets), &secrets)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set(HeaderWebhookID, d.ID)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	if len(secrets) > 0 {
		h.Set(HeaderWebhookSignature, StandardSignature(d.ID, now, body, secrets))
	}
	switch d.Family {
	case store.FamilyKheops:
		h.Set(HeaderKheopsEvent, d.Event)
		h.Set(HeaderKheopsAttempt, strconv.Itoa(n)+"/"+strconv.Itoa(d.MaxAttempts))
		h.Set(HeaderKheopsDelivery, d.ID)
		if len(secrets) > 0 {
			h.Set(HeaderKheopsSignature, KheopsSignature(secrets[0], body))
		}
	default:
		if len(secrets) > 0 {
			h.Set(HeaderNursaSignature, NursaSignature(now, body, secrets))
		}
	}
	return req, nil
}

// send makes attempt n of d.
func (e *Engine) send(ctx context.Context, d store.Delivery, n int) result {
	start := time.Now()
	res := result{attempt: store.DeliveryAttempt{DeliveryID: d.ID, Attempt: n, Status: -1}}
	defer func() {
		res.attempt.DurationMS = time.Since(start).Milliseconds()
		res.attempt.CreatedAt = time.Now().UTC()
	}()
	req, err := Request(ctx, d, n, start)
	if err != nil {
		res.err = err
		res.attempt.Error = "bad request: " + err.Error()
		return res
	}
	resp, err := e.http.Do(req)
	if err != nil {
		res.err = err
		res.attempt.Error = DescribeError(err)
		return res
	}
	defer resp.Body.Close()
	b, _ := ReadLimitedBody(resp.Body)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	res.attempt.Status = resp.StatusCode
	res.attempt.ResponseBody = cleanText(b)
	if ra, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		res.retryAfter, res.hasRetryAfter = ra, true
	}
	return res
}

// cleanText makes a response body storable as text: valid UTF-8, no NUL bytes.
func cleanText(b []byte) string {
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "")
}
