// Package harness starts real Kubernetes API servers (kube-apiserver + etcd,
// through controller-runtime's envtest) for tmc's tests and demo.
//
// The binaries are built from the Go module proxy by `make envtest` into
// bin/envtest; KUBEBUILDER_ASSETS overrides where they are looked for.
//
//	func TestSomething(t *testing.T) {
//		cs := harness.StartT(t, "prod-east", "prod-west", "edge-1")
//		// cs.KubeconfigPath has one context per cluster, named after it.
//		c := cs.Get("prod-east").Client
//		...
//	}
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Cluster is one running API server.
type Cluster struct {
	// Name is the cluster's name and its kubeconfig context.
	Name string
	// Config reaches the API server as cluster admin.
	Config *rest.Config
	// Client is a controller-runtime client for Config.
	Client client.Client
	// Clientset is a client-go clientset for Config.
	Clientset kubernetes.Interface
	// Token is a bearer token the API server accepts for a cluster admin
	// (group system:masters): for clients that do not hold Config's
	// client certificate, such as an exec credential plugin's.
	Token string
	env   *envtest.Environment
}

// Clusters is a set of running API servers.
type Clusters struct {
	// Clusters in the order they were asked for.
	Clusters []*Cluster
	// Kubeconfig holds one context per cluster, named after it; current-context is the first.
	Kubeconfig *clientcmdapi.Config
	// KubeconfigPath is where Kubeconfig is written.
	KubeconfigPath string
}

// Get returns the named cluster, or nil.
func (cs *Clusters) Get(name string) *Cluster {
	for _, c := range cs.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func init() {
	// Quiet controller-runtime's "SetLogger was never called" warning in tests.
	ctrllog.SetLogger(logr.Discard())
}

// AssetsDir returns the directory holding kube-apiserver and etcd:
// $KUBEBUILDER_ASSETS, else bin/envtest of the repo this file is in.
func AssetsDir() (string, error) {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "bin", "envtest")
		if _, err := os.Stat(filepath.Join(cand, "kube-apiserver")); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kube-apiserver not found: run `make envtest` or set KUBEBUILDER_ASSETS")
		}
		dir = parent
	}
}

// Start starts one API server per name, concurrently, and writes a kubeconfig
// for all of them into dir. Stop them with Stop, also when Start fails.
func Start(ctx context.Context, dir string, names ...string) (*Clusters, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	cs := &Clusters{Clusters: make([]*Cluster, len(names))}
	g, _ := errgroup.WithContext(ctx)
	for i, name := range names {
		g.Go(func() error {
			env := &envtest.Environment{
				BinaryAssetsDirectory:    assets,
				ControlPlaneStartTimeout: 90 * time.Second,
				ControlPlaneStopTimeout:  30 * time.Second,
			}
			var tok [16]byte
			if _, err := rand.Read(tok[:]); err != nil {
				return err
			}
			token := hex.EncodeToString(tok[:])
			tokenFile := filepath.Join(dir, "tokens-"+name+".csv")
			if err := os.WriteFile(tokenFile, []byte(token+`,tmc-test-admin,tmc-test-admin,"system:masters"`+"\n"), 0o600); err != nil {
				return err
			}
			env.ControlPlane.GetAPIServer().Configure().Set("token-auth-file", tokenFile)
			cfg, err := env.Start()
			if err != nil {
				return fmt.Errorf("cluster %s: start API server: %w", name, err)
			}
			cfg.QPS, cfg.Burst = 200, 400
			c := &Cluster{Name: name, Config: cfg, Token: token, env: env}
			cs.Clusters[i] = c
			if c.Client, err = client.New(cfg, client.Options{}); err != nil {
				return fmt.Errorf("cluster %s: %w", name, err)
			}
			if c.Clientset, err = kubernetes.NewForConfig(cfg); err != nil {
				return fmt.Errorf("cluster %s: %w", name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return cs, err
	}
	cs.Kubeconfig = kubeconfig(cs.Clusters)
	cs.KubeconfigPath = filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cs.Kubeconfig, cs.KubeconfigPath); err != nil {
		return cs, err
	}
	return cs, nil
}

// Stop stops every API server that started; errors are joined.
func (cs *Clusters) Stop() error {
	var errs []error
	for _, c := range cs.Clusters {
		if c != nil && c.env != nil {
			if err := c.env.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("cluster %s: %w", c.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// StartT starts the clusters for a test and stops them when it ends.
func StartT(t testing.TB, names ...string) *Clusters {
	t.Helper()
	cs, err := Start(context.Background(), t.TempDir(), names...)
	t.Cleanup(func() {
		if err := cs.Stop(); err != nil {
			t.Errorf("stop clusters: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func kubeconfig(clusters []*Cluster) *clientcmdapi.Config {
	kc := clientcmdapi.NewConfig()
	for _, c := range clusters {
		kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.Config.Host, CertificateAuthorityData: c.Config.CAData}
		kc.AuthInfos[c.Name] = &clientcmdapi.AuthInfo{
			ClientCertificateData: c.Config.CertData,
			ClientKeyData:         c.Config.KeyData,
			Token:                 c.Config.BearerToken,
		}
		kc.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name}
	}
	if len(clusters) > 0 {
		kc.CurrentContext = clusters[0].Name
	}
	return kc
}

// WriteKubeconfig writes the kubeconfig to path, with the server of some
// clusters replaced (name → https://host:port), e.g. to route one through a Proxy.
func (cs *Clusters) WriteKubeconfig(path string, servers map[string]string) error {
	kc := cs.Kubeconfig.DeepCopy()
	for name, server := range servers {
		if c, ok := kc.Clusters[name]; ok {
			c.Server = server
		}
	}
	return clientcmd.WriteToFile(*kc, path)
}
