// Package chart renders Helm charts of the policy repo with the Helm SDK,
// offline and bounded. A chart is as untrusted as the rest of the repo: it
// renders in a child process (this same binary, re-executed) with limits on
// memory, CPU time and wall time, gets only the chart's own files (never a
// path on disk), has no cluster (lookup is an error), no network (values
// schemas may not reference anything outside themselves, dependencies must be
// vendored), and draws randomness deterministically (see rand.go).
package chart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Limits of one chart render (one chart for one cluster).
const (
	// Timeout bounds a render's wall time inside the child; the parent
	// kills the child KillAfter later still.
	Timeout   = 3 * time.Second
	KillAfter = 2 * time.Second
	// MaxHeap bounds the child's live heap (checked every 10 ms); MaxAddressSpace
	// is its RLIMIT_AS, a backstop for a single huge allocation.
	MaxHeap         = 512 << 20
	MaxAddressSpace = 3 << 30
	// MaxCPUSeconds is the child's RLIMIT_CPU.
	MaxCPUSeconds = 5
	// MaxChartBytes bounds a chart's files (or its archive) sent to the child.
	MaxChartBytes = 32 << 20
	// MaxOutput bounds what a render may return.
	MaxOutput = 64 << 20
	// MaxUntil bounds until/untilStep/seq lists; MaxRepeat the bytes repeat makes.
	MaxUntil  = 100000
	MaxRepeat = 1 << 20
)

// File is one file of a chart, its name relative to the chart's root.
type File struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// Request is one render: a chart, its values, the release, and the target
// cluster's version.
type Request struct {
	// Files is the chart directory's files; Archive a packaged chart (.tgz).
	Files   []File `json:"files,omitempty"`
	Archive []byte `json:"archive,omitempty"`
	// Values are the user's values (values files, inline values and cluster
	// values merged); the chart's values.yaml is under them.
	Values map[string]any `json:"values"`
	// Release and Namespace are .Release.Name and .Release.Namespace.
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	// KubeVersion is .Capabilities.KubeVersion (e.g. v1.37.2); "" is Helm's default.
	KubeVersion string `json:"kubeVersion,omitempty"`
	// Cluster is the target cluster: part of what random values derive from.
	Cluster string `json:"cluster"`
	// Key is the operator's key random values derive from (nil: unkeyed,
	// and then a random value may not land in an object tmc applies).
	Key []byte `json:"key,omitempty"`
	// SkipCRDs leaves out the chart's crds/ directory.
	SkipCRDs bool `json:"skipCRDs,omitempty"`
	// Source names the chart in errors (its path in the repo).
	Source string `json:"source"`
	// MaxOutput, when set below the package's MaxOutput, bounds what this
	// render may return (the caller's budget over many renders).
	MaxOutput int `json:"-"`
}

// Manifest is one rendered object document.
type Manifest struct {
	// Template is the file it came from (e.g. podinfo/templates/deployment.yaml, or crds/x.yaml).
	Template string `json:"template"`
	Content  string `json:"content"`
	// Hook is the helm.sh/hook events of a hook object ("" for others).
	Hook string `json:"hook,omitempty"`
}

// Result is what a render made.
type Result struct {
	// Manifests in Helm's install order: CRDs of crds/ first, then hooks
	// that run before install (by weight), the manifests, the hooks after.
	Manifests []Manifest `json:"manifests"`
	// Dropped names the test hooks left out.
	Dropped []string `json:"dropped,omitempty"`
	// Error is why the chart did not render.
	Error string `json:"error,omitempty"`
}

// envChild marks the re-executed binary as a chart renderer.
const envChild = "TMC_CHART_RENDERER_CHILD"

// EnvKeyFile names a file holding the operator's chart key (trusted
// configuration: the environment of tmc, never the repo).
const EnvKeyFile = "TMC_CHART_KEY_FILE"

func init() {
	if os.Getenv(envChild) == "1" {
		os.Exit(serve(os.Stdin, os.Stdout))
	}
}

// OperatorKey reads the operator's chart key, if one is configured.
func OperatorKey() ([]byte, error) {
	p := os.Getenv(EnvKeyFile)
	if p == "" {
		return nil, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("chart key (%s): %w", EnvKeyFile, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 16 {
		return nil, fmt.Errorf("chart key (%s): %s holds fewer than 16 bytes", EnvKeyFile, p)
	}
	return b, nil
}

// Render renders a chart in a child process and returns its manifests.
func Render(ctx context.Context, req *Request) (*Result, error) {
	in, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("chart %s: cannot find tmc's own binary to render in: %w", req.Source, err)
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout+KillAfter)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(minimalEnv(), envChild+"=1")
	cmd.Stdin = bytes.NewReader(in)
	limit := MaxOutput
	if req.MaxOutput > 0 && req.MaxOutput < limit {
		limit = req.MaxOutput
	}
	out := &limitedBuffer{max: limit}
	var stderr limitedBuffer
	stderr.max = 64 << 10
	at := &atWriter{w: &stderr}
	cmd.Stdout, cmd.Stderr = out, at
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	at.flush()
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
		return nil, fmt.Errorf("chart %s: the render did not end within %s%s; it was stopped (a template looping for ever?)", req.Source, Timeout+KillAfter, at.where())
	}
	if out.over {
		return nil, fmt.Errorf("chart %s: the render made more than %d MiB of manifests", req.Source, limit>>20)
	}
	var res Result
	if err := json.Unmarshal(out.b.Bytes(), &res); err != nil {
		msg := strings.TrimSpace(stderr.b.String())
		switch {
		case strings.Contains(msg, "out of memory") || strings.Contains(msg, "cannot allocate memory"):
			return nil, fmt.Errorf("chart %s: the render ran out of its memory bound (%d GiB of address space)%s", req.Source, MaxAddressSpace>>30, at.where())
		case runErr != nil && strings.Contains(runErr.Error(), "killed"):
			return nil, fmt.Errorf("chart %s: the render was stopped after its CPU-time bound (%ds)%s", req.Source, MaxCPUSeconds, at.where())
		}
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("chart %s: the render failed (%v): %s", req.Source, runErr, msg)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("chart %s: %s", req.Source, res.Error)
	}
	return &res, nil
}

// minimalEnv is what the child needs of tmc's environment: nothing that
// could point it at a cluster, a proxy or a credential.
func minimalEnv() []string {
	var out []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOCOVERDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// atPrefix starts the lines by which the child says which template it is
// in; atWriter takes them out of its stderr and keeps the last.
const atPrefix = "\x00tmc-chart-at "

type atWriter struct {
	w       io.Writer
	mu      sync.Mutex
	partial []byte
	last    string
}

func (a *atWriter) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.partial = append(a.partial, p...)
	for {
		i := bytes.IndexByte(a.partial, '\n')
		if i < 0 {
			break
		}
		line := a.partial[:i+1]
		if name, ok := bytes.CutPrefix(line, []byte(atPrefix)); ok {
			a.last = strings.TrimSuffix(string(name), "\n")
		} else {
			_, _ = a.w.Write(line)
		}
		a.partial = a.partial[i+1:]
	}
	if len(a.partial) > 64<<10 { // a line without end: pass it on as it is
		_, _ = a.w.Write(a.partial)
		a.partial = nil
	}
	return len(p), nil
}

// flush passes on what is left of a last line without end.
func (a *atWriter) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.partial) > 0 && !bytes.HasPrefix(a.partial, []byte(atPrefix)) {
		_, _ = a.w.Write(a.partial)
	}
	a.partial = nil
}

func (a *atWriter) where() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == "" {
		return ""
	}
	return " in template " + a.last
}

type limitedBuffer struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.b.Len()+len(p) > l.max {
		l.over = true
		return 0, io.ErrShortWrite
	}
	return l.b.Write(p)
}
