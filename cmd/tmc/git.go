package main

import (
	"github.com/go-git/go-git/v5"
)

// gitRevision returns the HEAD commit of the repo holding dir, or "".
func gitRevision(dir string) string {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	head, err := repo.Head()
	if err != nil {
		return ""
	}
	return head.Hash().String()
}
