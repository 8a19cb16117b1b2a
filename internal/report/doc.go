// Package report turns aggregated workspace views into deterministic files
// in the repo — reports/<logicalCluster>/<workspace>/status.yaml (the whole
// view, machine-readable) and README.md (tables for a reviewer) — and commits
// and pushes them with go-git. An unchanged world gives byte-identical files,
// and unchanged files make no commit.
//
//	files, _ := report.Files("reports", views)
//	changed, _ := report.Write(repoDir, files)
//	res, _ := report.Commit(ctx, repoDir, files, report.CommitOptions{Push: true})
package report
