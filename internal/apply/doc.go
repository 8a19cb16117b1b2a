// Package apply converges clusters from a plan.Plan: it never recomputes
// what the plan decided. Per cluster, concurrently: CRDs and Namespaces
// first, then the rest, each with one server-side-apply request under the
// field manager "tmc"; then the deletions the plan lists (only objects tmc's
// inventory recorded); then the inventory; then, with Wait, kstatus readiness.
// One cluster failing never stops the others.
//
//	res, err := apply.Apply(ctx, pl, clusters, apply.DefaultOptions())
//	if res.Failed() { ... }
package apply
