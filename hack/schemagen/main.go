// Command schemagen writes the JSON Schemas of tmc's policy kinds into schemas/.
// Run it from the repo root: go run ./hack/schemagen (or make schemas).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kcp-dev/tmc/internal/schema"
)

func main() {
	files, err := schema.Generate("internal/policy")
	if err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll("schemas", 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join("schemas", name), data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "schemagen:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("wrote %d schemas to schemas/\n", len(files))
}
