package cluster

import (
	"net/http"
	"net/url"
	"testing"
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
