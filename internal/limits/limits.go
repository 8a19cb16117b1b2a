// Package limits holds every bound tmc puts on untrusted input — the policy
// repo, cluster facts and live objects — in one place, with the YAML checks
// that enforce the structural ones. docs/security.md lists them with the
// reasoning; change a value here and there together.
package limits

// Sizes of inputs read from the policy repo.
const (
	// MaxFileSize bounds one YAML or JSON file of the policy repo (policies and manifests).
	MaxFileSize = 8 << 20
	// MaxRenderInput bounds the bytes of manifests one render reads, over all
	// workspaces and sources, besides the per-file cap.
	MaxRenderInput = 64 << 20
	// MaxObjectSize bounds one Kubernetes object, as JSON. The API server
	// refuses request bodies over 3 MiB, so a larger object can never apply.
	MaxObjectSize = 3 << 20
	// MaxConfigMapData is what the API server accepts in a ConfigMap's or
	// Secret's data (1 MiB): a larger one can never apply either.
	MaxConfigMapData = 1 << 20
	// MaxRepoCopy bounds the in-memory copy of the repo that kustomize builds read.
	MaxRepoCopy = 256 << 20
	// MaxFactsFile bounds a --facts file.
	MaxFactsFile = 1 << 20
	// MaxKubeconfig bounds a kubeconfig file named by a Cluster in the repo.
	MaxKubeconfig = 1 << 20
	// MaxPlanFile bounds a saved plan read by `tmc apply --plan`.
	MaxPlanFile = 256 << 20
)

// Structure of YAML documents.
const (
	// MaxYAMLNodes bounds the nodes of one YAML document once its aliases are
	// expanded (the "billion laughs" bound). Counted before anything expands them.
	MaxYAMLNodes = 1_000_000
	// MaxYAMLDepth bounds the nesting of mappings and lists in one document.
	// It also bounds how much larger than its input an indented JSON or YAML
	// rendering can get (each line's indent grows with depth).
	MaxYAMLDepth = 100
	// MaxYAMLBytes bounds the bytes of scalars in one document once its
	// aliases are expanded.
	MaxYAMLBytes = 16 << 20
)

// Expressions (expr-lang) and templates.
const (
	// MaxExprNodes bounds the size of an expression's syntax tree.
	MaxExprNodes = 2000
	// MaxExprMemory bounds the items (list elements, map entries, loop
	// iterations) one run of an expression may allocate: expr-lang's memory budget.
	MaxExprMemory = 200_000
	// MaxExprBytes bounds the bytes of strings and lists one run of an
	// expression may build with +, repeat, replace, join, split, concat,
	// flatten, upper, lower, toJSON and toBase64, counted before each allocates.
	MaxExprBytes = 1 << 20
	// MaxTemplateOutput bounds the text one Template transformation renders;
	// every template function refuses to build a string longer than this.
	MaxTemplateOutput = 64 << 10
	// MaxValueNodes bounds a transformation's value once its YAML aliases are expanded.
	MaxValueNodes = 10_000
	// MaxTransformations bounds the transformations of one policy.
	MaxTransformations = 1_000
	// MaxWaves bounds the waves of one rollout.
	MaxWaves = 100
	// MaxTransformWork bounds the transformations one render runs in all
	// (objects × clusters × acting transformations), so that the work of a
	// render is linear in what the repo writes and ends in seconds.
	MaxTransformWork = 5_000_000
	// MaxRenderOutput bounds the size (as JSON) of every object one render
	// produces for every cluster; each object is also bounded by
	// MaxObjectSize after its transformations.
	MaxRenderOutput = 256 << 20
)

// The fleet a policy tree may describe, sized for real fleets: each Cluster
// costs a client, its connections and its facts (about 170 KiB of memory
// each in a plan), each workspace a render and plan of its own.
const (
	// MaxClusters bounds the Cluster objects of a tree.
	MaxClusters = 2_000
	// MaxWorkspaces bounds the VirtualWorkspaces of a tree.
	MaxWorkspaces = 1_000
)

// What tmc reads from a cluster.
const (
	// MaxResponseBytes bounds one response body of an API server (a LIST
	// page, a GET): a server the repo names cannot make tmc allocate
	// without bound. LIST pages are 500 items.
	MaxResponseBytes = 64 << 20
)

// Requests a policy can make tmc send.
const (
	// MaxPolicyNamespaces bounds an AggregationPolicy's namespaces: each is
	// one LIST per target cluster on every aggregation.
	MaxPolicyNamespaces = 100
)

// Cluster facts.
const (
	// MaxCapacity bounds a declared or observed capacity figure (cores, bytes
	// or pods), so that it stays a finite number in every output.
	MaxCapacity = 1e18
)
