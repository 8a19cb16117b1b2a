// Package sync is tmc's continuous form: a loop that fetches a git repo,
// loads its policies, and for every workspace renders, plans, applies,
// aggregates and writes reports back; that tracks cluster health; and that
// serves /healthz, /readyz, /metrics and a status API.
//
//	s, err := sync.New(sync.Options{Repo: "https://git.example.com/org/policies.git", Interval: time.Minute})
//	go http.ListenAndServe(":8080", s.Handler())
//	err = s.Run(ctx)
package syncer
