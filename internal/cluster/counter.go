package cluster

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/kcp-dev/tmc/internal/limits"
)

// Counter counts API requests by verb: get, list, watch, create, update,
// patch, delete, and dry-run for requests with dryRun=All (which change nothing).
type Counter struct {
	mu     sync.Mutex
	counts map[string]int64
	// OnRequest, when set, is called with each request's verb.
	OnRequest func(verb string)
}

// Wrap returns a RoundTripper that counts every request it sends.
func (c *Counter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		v := verb(req)
		c.add(v)
		if c.OnRequest != nil {
			c.OnRequest(v)
		}
		return rt.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *Counter) add(v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int64{}
	}
	c.counts[v]++
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Writes returns the number of requests that change something.
func (c *Counter) Writes() int64 {
	var n int64
	for v, k := range c.Snapshot() {
		switch v {
		case "create", "update", "patch", "delete":
			n += k
		}
	}
	return n
}

// Total returns the number of requests.
func (c *Counter) Total() int64 {
	var n int64
	for _, k := range c.Snapshot() {
		n += k
	}
	return n
}

// verb names a request the way Kubernetes audit logs do.
func verb(r *http.Request) string {
	q := r.URL.Query()
	if q.Get("dryRun") != "" {
		return "dry-run"
	}
	switch r.Method {
	case http.MethodGet:
		if q.Get("watch") == "true" || q.Get("watch") == "1" {
			return "watch"
		}
		if isCollection(r.URL.Path) {
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(r.Method)
}

// isCollection tells /api/v1/namespaces/x/configmaps (a list) from
// /api/v1/namespaces/x/configmaps/y (a get); discovery paths count as list.
func isCollection(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case parts[0] == "api" && len(parts) >= 2:
		rest = parts[2:] // /api/v1/...
	case parts[0] == "apis" && len(parts) >= 3:
		rest = parts[3:] // /apis/group/version/...
	case parts[0] == "api" || parts[0] == "apis":
		return true // discovery
	default:
		return false
	}
	if len(rest) >= 2 && rest[0] == "namespaces" {
		if len(rest) == 2 {
			return false // GET namespaces/x is the Namespace
		}
		rest = rest[2:]
	}
	return len(rest) <= 1
}

// limitInFlight returns a RoundTripper that lets at most cap(slots) requests (other
// than watches, which stay open) be in flight at once; the others wait.
func limitInFlight(rt http.RoundTripper, slots chan struct{}) http.RoundTripper {
	if slots == nil {
		return rt
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.URL.Query().Get("watch") == "true" {
			return rt.RoundTrip(req)
		}
		select {
		case slots <- struct{}{}:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		defer func() { <-slots }()
		return rt.RoundTrip(req)
	})
}

// limitBody bounds every response body but a watch's to
// limits.MaxResponseBytes: reading past it fails with an error naming the
// bound, so that a server (one the policy repo names, say) cannot make tmc
// allocate without bound.
func limitBody(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.Body == nil || req.URL.Query().Get("watch") == "true" {
			return resp, err
		}
		resp.Body = &boundedBody{rc: resp.Body, left: limits.MaxResponseBytes}
		return resp, nil
	})
}

type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

// ErrResponseTooLarge is returned when a response body passes limits.MaxResponseBytes.
var ErrResponseTooLarge = fmt.Errorf("response larger than %d MiB: refused", limits.MaxResponseBytes>>20)

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrResponseTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if err == nil && b.left <= 0 {
		// One more byte would pass the bound: find out whether there is one.
		var one [1]byte
		if m, _ := b.rc.Read(one[:]); m > 0 {
			return n, ErrResponseTooLarge
		}
	}
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }
