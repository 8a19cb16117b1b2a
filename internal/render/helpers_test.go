package render

import "github.com/kcp-dev/tmc/internal/fieldpath"

type fieldpathPath = fieldpath.Path

func parsePath(s string) fieldpath.Path { return fieldpath.MustParse(s) }
