package aggregate

import (
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kcp-dev/tmc/internal/policy"
)

// instanceHealth is the policy's healthExpression when it has one, else kstatus.
func instanceHealth(ap *policy.AggregationPolicy, obj map[string]any, env *policy.Env) (string, string) {
	if p := ap.Spec.HealthProgram; p != nil {
		env.Resource = obj
		ok, err := p.Bool(env)
		switch {
		case err != nil:
			return Unknown, err.Error()
		case ok:
			return Healthy, "healthExpression is true"
		}
		return Unhealthy, "healthExpression is false"
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		return Unknown, err.Error()
	}
	switch res.Status {
	case status.CurrentStatus:
		return Healthy, res.Message
	case status.InProgressStatus, status.TerminatingStatus:
		return Progressing, res.Message
	case status.FailedStatus:
		return Unhealthy, res.Message
	}
	return Unknown, res.Message
}

// resourceHealth applies healthAggregation over every target cluster; a
// missing or unreachable instance counts against the resource.
func resourceHealth(rule policy.HealthAggregation, origins []Origin, targets map[string]TargetCluster) string {
	var healthy, n int
	var wHealthy, wAll float64
	progressing, unhealthy := false, false
	for _, o := range origins {
		w := targets[o.Cluster].Weight
		n++
		wAll += w
		switch o.Health {
		case Healthy:
			healthy++
			wHealthy += w
		case Progressing:
			progressing = true
		default:
			unhealthy = true
		}
	}
	ok := false
	switch rule {
	case policy.HealthAll:
		ok = n > 0 && healthy == n
	case policy.HealthAny:
		ok = healthy > 0
	case policy.HealthWeighted:
		ok = wAll > 0 && wHealthy*2 > wAll
	default: // Majority
		ok = healthy*2 > n
	}
	switch {
	case ok:
		return Healthy
	case progressing && !unhealthy:
		return Progressing
	}
	return Unhealthy
}
