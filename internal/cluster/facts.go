package cluster

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kcp-dev/tmc/internal/policy"
)

// Health probes /readyz within the cluster's healthCheckTimeout.
func (c *Client) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.Policy.HealthCheckTimeout())
	defer cancel()
	body, err := c.Clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("cluster %s: /readyz: %w", c.Name, err)
	}
	if string(body) != "ok" {
		return fmt.Errorf("cluster %s: /readyz answered %q", c.Name, body)
	}
	return nil
}

// Observe reads the cluster's server version, Node count and summed allocatable cpu, memory and pods.
func (c *Client) Observe(ctx context.Context) (policy.ClusterFacts, error) {
	var f policy.ClusterFacts
	v, err := c.Clientset.Discovery().ServerVersion()
	if err != nil {
		return f, fmt.Errorf("cluster %s: server version: %w", c.Name, err)
	}
	f.KubernetesVersion = v.GitVersion
	// Paged, so that every response stays far below limits.MaxResponseBytes
	// however many Nodes the cluster has.
	opts := metav1.ListOptions{Limit: DefaultPageSize}
	for {
		nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return f, fmt.Errorf("cluster %s: list Nodes: %w", c.Name, err)
		}
		f.Nodes += len(nodes.Items)
		for _, n := range nodes.Items {
			a := n.Status.Allocatable
			f.Capacity.CPU += a.Cpu().AsApproximateFloat64()
			f.Capacity.Memory += a.Memory().AsApproximateFloat64()
			f.Capacity.Pods += a.Pods().AsApproximateFloat64()
		}
		if opts.Continue = nodes.Continue; opts.Continue == "" {
			return f, nil
		}
	}
}

// Facts returns a cluster's facts: what it declares over what is observed,
// healthy when /readyz answers. It implements render.Facts. A cluster that
// cannot be reached gets its declared facts, healthy false, and the error.
func (s *Set) Facts(ctx context.Context, pc *policy.Cluster) (policy.ClusterFacts, error) {
	f := pc.DeclaredFacts()
	if why := pc.Inventory.Unhealthy(); why != "" {
		// Unhealthy by the inventory's word, without a probe; one the
		// inventory reports healthy is still probed below.
		return f, errors.New(why)
	}
	c, err := s.Get(pc.Metadata.Name)
	if err == nil {
		err = c.Health(ctx)
	}
	var obs policy.ClusterFacts
	if err == nil {
		obs, err = c.Observe(ctx)
	}
	if err != nil {
		f.Healthy = false
		return f, err
	}
	f.KubernetesVersion, f.Nodes, f.Capacity = obs.KubernetesVersion, obs.Nodes, obs.Capacity
	pc.OverlayCapacity(&f)
	return f, nil
}
