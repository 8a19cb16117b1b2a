// Package syncer is tmc's continuous form: a loop that fetches a git repo,
// loads its policies, and for every workspace renders, plans, applies,
// aggregates and writes reports back (through internal/engine); that tracks
// cluster health and facts; and that serves /healthz, /readyz, /metrics and
// a status API. Programs embed it through the root package's Manager.
//
//	s := syncer.New(syncer.Options{Repo: "https://git.example.com/org/policies.git", Interval: time.Minute})
//	go http.ListenAndServe(":8080", s.Handler())
//	err := s.Run(ctx, finishCtx) // stops taking work when ctx ends; the reconcile in flight runs under finishCtx
package syncer
