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
	if _, err := c.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("cluster %s: create Node %s: %w", c.Name, n.Name, err)
	}
	if err := c.setNodeStatus(ctx, n); err != nil {
		return nil, err
	}
	return c.Clientset.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
}

// setNodeStatus writes a Node's capacity, allocatable and Ready condition.
func (c *Cluster) setNodeStatus(ctx context.Context, n NodeSpec) error {
	node, err := c.Clientset.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	res := corev1.ResourceList{}
	for name, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: n.CPU, corev1.ResourceMemory: n.Memory, corev1.ResourcePods: n.Pods} {
		if q == "" {
			continue
		}
		qty, err := resource.ParseQuantity(q)
		if err != nil {
			return fmt.Errorf("node %s: %s: %w", n.Name, name, err)
		}
		res[name] = qty
	}
	node.Status.Capacity = res
	node.Status.Allocatable = res
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := c.Clientset.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("cluster %s: update Node %s status: %w", c.Name, n.Name, err)
	}
	return nil
}
