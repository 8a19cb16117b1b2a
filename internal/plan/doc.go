// Package plan computes, with no side effects, what converging every target
// cluster would change: for each workspace and cluster, a server-side-apply
// dry-run of every desired object compared with the live object, plus the
// objects of tmc's inventory that git no longer holds. The result is a Plan
// value that views print and internal/apply consumes.
//
//	p, err := plan.Build(ctx, policies, rendered, clusters, plan.DefaultOptions())
//	for _, c := range p.Changes { fmt.Println(c.Action, c.ID().On(c.Cluster)) }
package plan
