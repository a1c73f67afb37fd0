package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// requestTimeout bounds every request; a live server on loopback answers
// in milliseconds.
const requestTimeout = 10 * time.Second

// errNoAnswer marks a request that got no response: the server may or may
// not have acted on it.
var errNoAnswer = errors.New("chaos: no answer")

// client speaks keygate's HTTP API (API.md) to one running process.
type client struct {
	base string
	hc   *http.Client
}

func newClient(addr string, conns int) *client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute}
	return &client{base: "http://" + addr, hc: &http.Client{Transport: tr, Timeout: requestTimeout}}
}

// close drops the pooled connections of a process that is gone.
func (c *client) close() { c.hc.CloseIdleConnections() }

// call sends one request. bearer, if not empty, goes in Authorization;
// body, if not nil, is sent as JSON; out, if not nil, receives the JSON
// answer of a 2xx. An error wrapping errNoAnswer means the status never
// arrived (the server may or may not have acted); any other error means
// a 2xx body that could not be read, which the caller must also treat as
// unacknowledged.
func (c *client) call(ctx context.Context, method, path, bearer string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %s: %v", errNoAnswer, method, path, err)
	}
	defer res.Body.Close()
	if out == nil || res.StatusCode/100 != 2 {
		// The status is the answer; a body cut short by a kill changes nothing.
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return res.StatusCode, fmt.Errorf("%s %s: %d with unreadable body: %v", method, path, res.StatusCode, err)
	}
	return res.StatusCode, nil
}

// keyView is the part of API.md's Key the test checks.
type keyView struct {
	ID         string `json:"id"`
	Key        string `json:"key"`
	IsActive   bool   `json:"is_active"`
	Replaces   string `json:"replaces"`
	ReplacedBy string `json:"replaced_by"`
}

// login returns an access token for a new session.
func (c *client) login(ctx context.Context, email, password string) (int, string, error) {
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	status, err := c.call(ctx, "POST", "/v1/auth/login", "", map[string]string{"email": email, "password": password}, &pair)
	return status, pair.AccessToken, err
}

// createKey is POST /v1/keys.
func (c *client) createKey(ctx context.Context, token, name string) (int, keyView, error) {
	var k keyView
	status, err := c.call(ctx, "POST", "/v1/keys", token, map[string]string{"name": name}, &k)
	return status, k, err
}

// rotateKey is POST /v1/keys/{id}/rotate with no grace period.
func (c *client) rotateKey(ctx context.Context, token, id string) (int, keyView, error) {
	var k keyView
	status, err := c.call(ctx, "POST", "/v1/keys/"+id+"/rotate", token, map[string]int{"grace_seconds": 0}, &k)
	return status, k, err
}

// revokeKey is DELETE /v1/keys/{id}.
func (c *client) revokeKey(ctx context.Context, token, id string) (int, error) {
	return c.call(ctx, "DELETE", "/v1/keys/"+id, token, nil, nil)
}

// chat is POST /v1/chat with a raw key.
func (c *client) chat(ctx context.Context, raw string) (int, error) {
	return c.call(ctx, "POST", "/v1/chat", raw, map[string]string{"message": "chaos"}, nil)
}

// listKeys is GET /v1/keys, by id.
func (c *client) listKeys(ctx context.Context, token string) (map[string]keyView, error) {
	var list struct {
		Keys []keyView `json:"keys"`
	}
	status, err := c.call(ctx, "GET", "/v1/keys", token, nil, &list)
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/keys: %d %v", status, err)
	}
	byID := make(map[string]keyView, len(list.Keys))
	for _, k := range list.Keys {
		byID[k.ID] = k
	}
	return byID, nil
}

// usage is the lineage's count over today and yesterday (GET
// /v1/keys/{id}/usage?days=2), so a run that crosses UTC midnight still
// sees everything it sent.
func (c *client) usage(ctx context.Context, token, id string) (int64, error) {
	var u struct {
		Days []struct {
			Count int64 `json:"count"`
		} `json:"days"`
	}
	status, err := c.call(ctx, "GET", "/v1/keys/"+id+"/usage?days=2", token, nil, &u)
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("GET /v1/keys/%s/usage: %d %v", id, status, err)
	}
	var n int64
	for _, d := range u.Days {
		n += d.Count
	}
	return n, nil
}
