package cluster

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/policy"
)

// Client reaches one cluster.
type Client struct {
	// Name is the Cluster's name.
	Name string
	// Config is the REST config, with raised rate limits and a request counter.
	Config *rest.Config
	// Client is a controller-runtime client with a lazy discovery-backed RESTMapper.
	Client client.Client
	// Clientset is a client-go clientset for discovery and typed calls.
	Clientset kubernetes.Interface
	// Requests counts this cluster's API requests by verb.
	Requests *Counter
	// Policy is the Cluster object.
	Policy *policy.Cluster
}

// Set holds a client, or the error that kept one from being made, per cluster.
type Set struct {
	opts    Options
	clients map[string]*Client
	errs    map[string]error
}

// Connect builds a client for every Cluster of the tree. It makes no
// requests; a cluster whose kubeconfig cannot be used gets an error that
// Get returns.
func Connect(ctx context.Context, p *policy.Policies, opts Options) *Set {
	s := &Set{opts: opts, clients: map[string]*Client{}, errs: map[string]error{}}
	for _, c := range p.Clusters {
		cl, err := newClient(ctx, p.Root, c, opts)
		if err != nil {
			s.errs[c.Metadata.Name] = fmt.Errorf("cluster %s: %w", c.Metadata.Name, err)
			continue
		}
		s.clients[c.Metadata.Name] = cl
	}
	return s
}

// Get returns the named cluster's client, or why there is none.
func (s *Set) Get(name string) (*Client, error) {
	if err, ok := s.errs[name]; ok {
		return nil, err
	}
	if c, ok := s.clients[name]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("cluster %s: not in the policy tree", name)
}

// Names returns the clusters with a client, sorted.
func (s *Set) Names() []string {
	var out []string
	for n := range s.clients {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Requests returns the request counts of every cluster, by cluster and verb.
func (s *Set) Requests() map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for n, c := range s.clients {
		out[n] = c.Requests.Snapshot()
	}
	return out
}

func newClient(ctx context.Context, root string, c *policy.Cluster, opts Options) (*Client, error) {
	if c.Inventory != nil {
		// The inventory, not the repo, says how the cluster is reached:
		// the operator's access provider runs its exec plugin.
		if opts.Access == nil {
			return nil, fmt.Errorf("%s of the cluster inventory: no access providers configured (pass --cluster-access-providers, the operator's provider file)", c.Inventory.Ref())
		}
		cfg, err := opts.Access(c)
		if err != nil {
			return nil, err
		}
		return NewClient(c, cfg, opts)
	}
	raw, err := rawConfig(ctx, root, c, opts)
	if err != nil {
		return nil, err
	}
	kc := c.Spec.Kubeconfig
	ctxName := kc.Context
	if _, ok := raw.Contexts[ctxName]; !ok {
		return nil, fmt.Errorf("kubeconfig has no context %q (set spec.kubeconfig.context; contexts: %v)", ctxName, contextNames(raw.Contexts))
	}
	kctx := raw.Contexts[ctxName]
	if ai, ok := raw.AuthInfos[kctx.AuthInfo]; ok && ai != nil {
		if (ai.Exec != nil || ai.AuthProvider != nil) && (kc.Path != "" || kc.SecretRef != nil) {
			where, what := kc.Path, "a kubeconfig in the policy repo"
			if r := kc.SecretRef; r != nil {
				where, what = "from Secret "+r.Namespace+"/"+r.Name, "a kubeconfig from a Secret the policy repo names"
			}
			return nil, fmt.Errorf("kubeconfig %s: user %q runs a credential plugin; %s may not (--allow-exec-plugins applies only to the kubeconfig tmc is given)", where, kctx.AuthInfo, what)
		}
		if (ai.Exec != nil || ai.AuthProvider != nil) && !opts.AllowExecPlugins {
			return nil, fmt.Errorf("kubeconfig user %q runs a credential plugin; pass --allow-exec-plugins to allow it", kctx.AuthInfo)
		}
	}
	if cl, ok := raw.Clusters[kctx.Cluster]; ok && cl != nil && cl.InsecureSkipTLSVerify && !opts.InsecureSkipTLSVerify {
		return nil, fmt.Errorf("kubeconfig cluster %q skips TLS verification; pass --insecure-skip-tls-verify to allow it", kctx.Cluster)
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, err
	}
	return NewClient(c, cfg, opts)
}

// NewClient makes a Client from a REST config, raising its rate limits and counting its requests.
func NewClient(c *policy.Cluster, cfg *rest.Config, opts Options) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	if opts.Timeout > 0 {
		cfg.Timeout = opts.Timeout
	}
	cfg.UserAgent = "tmc"
	counter := &Counter{}
	if opts.OnRequest != nil {
		name := c.Metadata.Name
		counter.OnRequest = func(verb string) { opts.OnRequest(name, verb) }
	}
	prev := cfg.WrapTransport
	var slots chan struct{} // one bound per cluster, whichever client sends
	if opts.MaxInFlight > 0 {
		slots = make(chan struct{}, opts.MaxInFlight)
	}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if prev != nil {
			rt = prev(rt)
		}
		return counter.Wrap(limitInFlight(limitBody(rt), slots))
	}
	cl, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{Name: c.Metadata.Name, Config: cfg, Client: cl, Clientset: cs, Requests: counter, Policy: c}, nil
}

func contextNames[T any](m map[string]T) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// rawConfig loads the kubeconfig a Cluster names: its secretRef, its path
// (relative to the policy root), --kubeconfig, or the default rules.
func rawConfig(ctx context.Context, root string, c *policy.Cluster, opts Options) (*clientcmdapi.Config, error) {
	kc := c.Spec.Kubeconfig
	if r := kc.SecretRef; r != nil {
		if opts.SecretKubeconfig == nil {
			return nil, fmt.Errorf("kubeconfig.secretRef %s/%s needs tmc running in a cluster (tmc sync)", r.Namespace, r.Name)
		}
		if r.Namespace != "" && !slices.Contains(opts.SecretNamespaces, r.Namespace) {
			return nil, fmt.Errorf("kubeconfig.secretRef %s/%s: a Cluster may name a Secret only in tmc's own namespace or one the operator allows (%s)", r.Namespace, r.Name, strings.Join(opts.SecretNamespaces, ", "))
		}
		data, err := opts.SecretKubeconfig(ctx, r.Namespace, r.Name, r.Key)
		if err != nil {
			return nil, fmt.Errorf("read kubeconfig from Secret %s/%s key %s: %w", r.Namespace, r.Name, r.Key, err)
		}
		// The repo chose this Secret: its kubeconfig follows the rules of
		// one read from the repo (no file references, no plugins).
		cfg, err := LoadRepoKubeconfig(data)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig from Secret %s/%s key %s: %w", r.Namespace, r.Name, r.Key, err)
		}
		return cfg, nil
	}
	if kc.Path != "" {
		return repoKubeconfig(root, kc.Path)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Kubeconfig != "" {
		rules.ExplicitPath = opts.Kubeconfig
	}
	cfg, err := rules.Load()
	if err != nil {
		return nil, err
	}
	return cfg, nil
}
