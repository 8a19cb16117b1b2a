// Package version holds tmc's build information, set at link time:
//
//	go build -ldflags "-X github.com/kcp-dev/tmc/internal/version.Version=v0.1.0 -X github.com/kcp-dev/tmc/internal/version.Commit=$(git rev-parse HEAD)"
//
// When the flags are not set, the values come from the module's build info.
package version

import (
	"runtime"
	"runtime/debug"
)

// Set at link time.
var (
	Version = ""
	Commit  = ""
)

// Info is tmc's build information.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && i.Commit == "" {
				i.Commit = s.Value
			}
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	return i
}
