package object

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIDFormats(t *testing.T) {
	for _, tc := range []struct {
		id              ID
		apiVersion, str string
	}{
		{FromAPIVersion("apps/v1", "Deployment", "web", "api"), "apps/v1", "Deployment/web/api"},
		{FromAPIVersion("v1", "Namespace", "", "web"), "v1", "Namespace/web"},
		{FromAPIVersion("rbac.authorization.k8s.io/v1", "ClusterRole", "", "view"), "rbac.authorization.k8s.io/v1", "ClusterRole/view"},
	} {
		if got := tc.id.APIVersion(); got != tc.apiVersion {
			t.Errorf("%v APIVersion = %q, want %q", tc.id, got, tc.apiVersion)
		}
		if got := tc.id.String(); got != tc.str {
			t.Errorf("%v String = %q, want %q", tc.id, got, tc.str)
		}
		if got := tc.id.On("prod-east"); got != "prod-east/"+tc.str {
			t.Errorf("%v On = %q", tc.id, got)
		}
	}
	if got := Workspace("root:prod", "web").String(); got != "root:prod/web" {
		t.Errorf("WorkspaceKey = %q", got)
	}
}

func TestLessPutsDependenciesFirst(t *testing.T) {
	ids := []ID{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "b"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "a"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "a"},
		{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "x.example.com"},
		{Version: "v1", Kind: "Namespace", Name: "web"},
		{Version: "v1", Kind: "Service", Namespace: "web", Name: "a"},
		{Version: "v1", Kind: "Secret", Namespace: "web", Name: "s"},
	}
	slices.SortFunc(ids, func(a, b ID) int {
		if Less(a, b) {
			return -1
		}
		if Less(b, a) {
			return 1
		}
		return 0
	})
	var got []string
	for _, id := range ids {
		got = append(got, id.String())
	}
	want := []string{"Namespace/web", "CustomResourceDefinition/x.example.com", "Secret/web/s", "ConfigMap/web/a", "Service/web/a", "Deployment/web/a", "Deployment/web/b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestValidateAsTheAPIServerDoes(t *testing.T) {
	for _, tc := range []struct {
		id      ID
		wantErr string
	}{
		{ID{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "a.b-c"}, ""},
		{ID{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "A"}, `metadata.name "A" is not a valid ConfigMap name`},
		{ID{Version: "v1", Kind: "ConfigMap", Namespace: "we.b", Name: "a"}, `metadata.namespace "we.b" is not a valid namespace`},
		{ID{Version: "v1", Kind: "ConfigMap", Namespace: "web"}, "metadata.name is empty"},
		{ID{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Name: "system:view"}, ""},
		{ID{Group: "example.com", Version: "v1", Kind: "Widget", Name: "a/b"}, "not a valid Widget name"},
		{ID{Group: "example.com", Version: "v1", Kind: "Widget", Name: "a\x1bb"}, "control characters"},
		{ID{Group: "example.com", Version: "v1", Kind: "Widget", Name: strings.Repeat("x", 254)}, "must be no more than 253"},
	} {
		err := tc.id.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: unexpected error %v", tc.id, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: error %v, want one containing %q", tc.id, err, tc.wantErr)
		}
	}
}

func TestDropServerMetadata(t *testing.T) {
	obj := map[string]any{"metadata": map[string]any{
		"name": "a", "uid": "u", "resourceVersion": "1", "managedFields": []any{}, "creationTimestamp": "t",
		"generation": int64(2), "labels": map[string]any{"x": "y"},
	}}
	DropServerMetadata(obj)
	want := map[string]any{"metadata": map[string]any{"name": "a", "labels": map[string]any{"x": "y"}}}
	if diff := cmp.Diff(want, obj); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	DropServerMetadata(map[string]any{}) // no metadata: no panic
}
