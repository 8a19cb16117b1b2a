package cluster

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestVerb(t *testing.T) {
	cases := map[string]string{
		"GET /api":                                                "list",
		"GET /apis":                                               "list",
		"GET /api/v1":                                             "list",
		"GET /apis/apps/v1":                                       "list",
		"GET /api/v1/namespaces":                                  "list",
		"GET /api/v1/namespaces/web":                              "get",
		"GET /api/v1/namespaces/web/configmaps":                   "list",
		"GET /api/v1/namespaces/web/configmaps/a":                 "get",
		"GET /apis/apps/v1/namespaces/web/deployments/a":          "get",
		"GET /apis/apps/v1/deployments":                           "list",
		"GET /api/v1/nodes/n1":                                    "get",
		"GET /api/v1/namespaces/web/configmaps?watch=true":        "watch",
		"PATCH /api/v1/namespaces/web/configmaps/a?dryRun=All":    "dry-run",
		"PATCH /api/v1/namespaces/web/configmaps/a?fieldManager=": "patch",
		"DELETE /api/v1/namespaces/web/configmaps/a":              "delete",
		"POST /api/v1/namespaces/web/configmaps":                  "create",
		"PUT /api/v1/namespaces/web/configmaps/a":                 "update",
		"GET /readyz":                                             "get",
		"GET /version":                                            "get",
	}
	for in, want := range cases {
		var method, raw string
		for i := range in {
			if in[i] == ' ' {
				method, raw = in[:i], in[i+1:]
				break
			}
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := verb(&http.Request{Method: method, URL: u}); got != want {
			t.Errorf("%s: verb %q, want %q", in, got, want)
		}
	}
}

// TestLimitInFlight: at most cap(slots) requests are in flight at once,
// across every client sharing the slots; watches do not take a slot.
func TestLimitInFlight(t *testing.T) {
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if r.URL.Query().Get("watch") != "true" {
			<-release
		}
		inFlight.Add(-1)
	}))
	defer srv.Close()
	slots := make(chan struct{}, 3)
	clients := []*http.Client{{Transport: limitInFlight(http.DefaultTransport, slots)}, {Transport: limitInFlight(http.DefaultTransport, slots)}}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := clients[i%2].Get(srv.URL + "/api/v1/pods")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	// A watch passes while every slot is taken.
	resp, err := clients[0].Get(srv.URL + "/api/v1/pods?watch=true")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	close(release)
	wg.Wait()
	if p := peak.Load(); p > 4 || p < 3 {
		t.Fatalf("peak in flight %d, want 3 (+1 for the watch)", p)
	}
}
