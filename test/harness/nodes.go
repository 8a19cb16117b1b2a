package harness

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeSpec is the capacity of a fake Node. An envtest cluster has no kubelets,
// so tests create Node objects to give a cluster capacity.
type NodeSpec struct {
	// Name of the Node.
	Name string
	// CPU, Memory and Pods are Kubernetes quantities, e.g. "8", "32Gi", "110".
	CPU, Memory, Pods string
	// Labels of the Node.
	Labels map[string]string
}

// CreateNode creates a Node and writes its allocatable and capacity through the status subresource.
func (c *Cluster) CreateNode(ctx context.Context, n NodeSpec) (*corev1.Node, error) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels}}
	created, err := c.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: create Node %s: %w", c.Name, n.Name, err)
	}
	res := corev1.ResourceList{}
	for name, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: n.CPU, corev1.ResourceMemory: n.Memory, corev1.ResourcePods: n.Pods} {
		if q == "" {
			continue
		}
		qty, err := resource.ParseQuantity(q)
		if err != nil {
			return nil, fmt.Errorf("node %s: %s: %w", n.Name, name, err)
		}
		res[name] = qty
	}
	created.Status.Capacity = res
	created.Status.Allocatable = res
	created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	updated, err := c.Clientset.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: update Node %s status: %w", c.Name, n.Name, err)
	}
	return updated, nil
}
