package chart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"regexp"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// serve is the child: one request on in, one Result on out.
func serve(in io.Reader, out io.Writer) int {
	// Bounds first: whatever the chart does, the process stays small and brief.
	if !raceEnabled {
		_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: MaxAddressSpace, Max: MaxAddressSpace})
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: MaxCPUSeconds, Max: MaxCPUSeconds + 1})
	// The GC may use twice the heap bound before the watchdog ends the
	// render: held at the bound itself it would burn the CPU time first.
	debug.SetMemoryLimit(2 * MaxHeap)
	var mu sync.Mutex
	written := false
	reply := func(res *Result) {
		mu.Lock()
		defer mu.Unlock()
		if written {
			return
		}
		written = true
		b, err := json.Marshal(res)
		if err != nil {
			b, _ = json.Marshal(&Result{Error: err.Error()})
		}
		_, _ = out.Write(b)
	}
	st := &state{}
	stop := func(msg string) {
		reply(&Result{Error: msg})
		syscall.Exit(0) // at once: the render's goroutine may be stuck in a loop
	}
	go watch(st, stop)
	// RLIMIT_CPU's soft limit sends SIGXCPU before the hard limit kills.
	xcpu := make(chan os.Signal, 1)
	signal.Notify(xcpu, syscall.SIGXCPU)
	go func() {
		<-xcpu
		stop(fmt.Sprintf("the render used more than %ds of CPU time%s; it was stopped", MaxCPUSeconds, st.where()))
	}()
	data, err := io.ReadAll(io.LimitReader(in, 2*MaxChartBytes+(16<<20)))
	if err != nil {
		reply(&Result{Error: err.Error()})
		return 0
	}
	var req Request
	if err := json.Unmarshal(data, &req); err != nil {
		reply(&Result{Error: "bad request: " + err.Error()})
		return 0
	}
	res, err := render(&req, st)
	if err != nil {
		reply(&Result{Error: err.Error()})
		return 0
	}
	reply(res)
	return 0
}

// state is where the render stands, for the watchdog's message.
type state struct {
	mu       sync.Mutex
	template string
}

func (s *state) at(name string) {
	s.mu.Lock()
	changed := s.template != name
	s.template = name
	s.mu.Unlock()
	if changed {
		// The parent reads it too: should this process be too starved to
		// report its own end, the parent's error still names the template.
		fmt.Fprintf(os.Stderr, "%s%s\n", atPrefix, name)
	}
}

func (s *state) where() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.template == "" {
		return ""
	}
	return " in template " + s.template
}

// watch ends the render when it runs past Timeout or its live heap past MaxHeap.
func watch(st *state, stop func(string)) {
	start := time.Now()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for {
		time.Sleep(10 * time.Millisecond)
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > MaxHeap {
			stop(fmt.Sprintf("the render used more than %d MiB of memory%s; it was stopped", MaxHeap>>20, st.where()))
			return
		}
		if time.Since(start) > Timeout {
			stop(fmt.Sprintf("the render did not end within %s%s; it was stopped (a template looping for ever?)", Timeout, st.where()))
			return
		}
	}
}

func render(req *Request, st *state) (*Result, error) {
	ch, err := load(req)
	if err != nil {
		return nil, err
	}
	if err := vendored(ch); err != nil {
		return nil, err
	}
	caps := common.DefaultCapabilities.Copy()
	if req.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(req.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: kubernetes version %q: %v", req.Cluster, req.KubeVersion, err)
		}
		caps.KubeVersion = *kv
	}
	opts := common.ReleaseOptions{Name: req.Release, Namespace: req.Namespace, Revision: 1, IsInstall: true}
	vals, err := chartutil.ToRenderValuesWithSchemaValidation(ch, req.Values, opts, caps, true)
	if err != nil {
		return nil, err
	}
	if err := validateSchemas(ch, vals["Values"].(common.Values)); err != nil {
		return nil, err
	}
	if err := filesOutside(ch); err != nil {
		return nil, err
	}
	mark(ch)
	rnd := newRandom(req)
	e := engine.Engine{CustomTemplateFuncs: funcs(st, rnd)}
	files, err := e.RenderWithContext(context.Background(), ch, vals)
	if err != nil {
		return nil, unmark(err)
	}
	for name := range files {
		if path.Base(name) == "NOTES.txt" {
			delete(files, name) // shown by helm install, never applied
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	res := &Result{Manifests: []Manifest{}}
	if !req.SkipCRDs {
		for _, crd := range ch.CRDObjects() {
			res.Manifests = append(res.Manifests, Manifest{Template: crd.Filename, Content: string(crd.File.Data)})
		}
	}
	var before, after []*release.Hook
	for _, h := range hooks {
		if slices.Contains(h.Events, release.HookTest) {
			res.Dropped = append(res.Dropped, h.Path+": "+h.Kind+"/"+h.Name)
			continue
		}
		pre := false
		for _, ev := range h.Events {
			pre = pre || strings.HasPrefix(ev.String(), "pre-")
		}
		if pre {
			before = append(before, h)
		} else {
			after = append(after, h)
		}
	}
	byWeight := func(hs []*release.Hook) {
		sort.SliceStable(hs, func(i, j int) bool { return hs[i].Weight < hs[j].Weight })
	}
	byWeight(before)
	byWeight(after)
	hook := func(h *release.Hook) Manifest {
		var evs []string
		for _, ev := range h.Events {
			evs = append(evs, ev.String())
		}
		return Manifest{Template: h.Path, Content: h.Manifest, Hook: strings.Join(evs, ",")}
	}
	for _, h := range before {
		res.Manifests = append(res.Manifests, hook(h))
	}
	for _, m := range manifests {
		res.Manifests = append(res.Manifests, Manifest{Template: m.Name, Content: m.Content})
	}
	for _, h := range after {
		res.Manifests = append(res.Manifests, hook(h))
	}
	if err := rnd.check(res.Manifests); err != nil {
		return nil, err
	}
	return res, nil
}

// load builds the chart from the request's files or archive: nothing is read from disk.
func load(req *Request) (*chartv2.Chart, error) {
	if req.Archive != nil {
		return loader.LoadArchive(bytes.NewReader(req.Archive))
	}
	files := make([]*archive.BufferedFile, 0, len(req.Files))
	for _, f := range req.Files {
		files = append(files, &archive.BufferedFile{Name: f.Name, Data: f.Data})
	}
	return loader.LoadFiles(files)
}

// vendored refuses a dependency that is not in the chart's charts/: tmc
// fetches nothing (helm dependency build leaves them there).
func vendored(ch *chartv2.Chart) error {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	for _, d := range ch.Metadata.Dependencies {
		if !have[d.Name] {
			where := ""
			if d.Repository != "" {
				where = " (repository " + d.Repository + ")"
			}
			return fmt.Errorf("dependency %q%s of Chart.yaml is not vendored under charts/: tmc fetches no charts; run `helm dependency build` and commit charts/", d.Name, where)
		}
	}
	for _, d := range ch.Dependencies() {
		if err := vendored(d); err != nil {
			return fmt.Errorf("charts/%s/%v", d.Name(), err)
		}
	}
	return nil
}

// validateSchemas checks the values against each chart's values.schema.json,
// as Helm does, but a schema may not reference anything outside itself (no
// file, no URL: a hostile schema must not make tmc read or fetch).
func validateSchemas(ch *chartv2.Chart, vals common.Values) error {
	var msgs []string
	if ch.Schema != nil {
		if err := validateSchema(ch.Schema, vals); err != nil {
			msgs = append(msgs, ch.Name()+"/values.schema.json: "+err.Error())
		}
	}
	for _, sub := range ch.Dependencies() {
		raw, ok := vals[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		sv, ok := raw.(map[string]any)
		if !ok {
			msgs = append(msgs, fmt.Sprintf("%s: values of subchart %s are a %T, not a map", ch.Name(), sub.Name(), raw))
			continue
		}
		if err := validateSchemas(sub, sv); err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		return errors.New("values do not meet the chart's schema: " + strings.Join(msgs, "; "))
	}
	return nil
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("the schema references %s: tmc loads no file or URL for a schema", url)
}

func validateSchema(schemaJSON []byte, vals common.Values) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource("file:///values.schema.json", doc); err != nil {
		return err
	}
	sch, err := c.Compile("file:///values.schema.json")
	if err != nil {
		return err
	}
	// Validate plain JSON data, as Helm does (numbers as json.Number).
	b, err := json.Marshal(vals.AsMap())
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return errors.New(schemaMessage(ve))
		}
		return err
	}
	return nil
}

// schemaMessage names each failing value by its path (e.g. /replicaCount).
func schemaMessage(ve *jsonschema.ValidationError) string {
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			out = append(out, fmt.Sprintf("at %s: %s", loc, e.ErrorKind))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return strings.Join(out, "; ")
}

// filesOutside refuses a template that names a path outside the chart for
// .Files: the chart's Files hold only its own files (a path outside finds
// nothing), but a chart that tries is hostile or broken, and says so.
func filesOutside(ch *chartv2.Chart) error {
	for _, t := range ch.Templates {
		for i, line := range strings.Split(string(t.Data), "\n") {
			for _, m := range filesArg.FindAllStringSubmatch(line, -1) {
				p := m[2]
				if strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") {
					return fmt.Errorf("%s:%d: .Files.%s %q: a chart's files are its own; tmc reads nothing outside the chart", path.Join(ch.ChartFullPath(), t.Name), i+1, m[1], p)
				}
			}
		}
	}
	for _, d := range ch.Dependencies() {
		if err := filesOutside(d); err != nil {
			return err
		}
	}
	return nil
}

var filesArg = regexp.MustCompile(`\.Files\.(Get|GetBytes|Glob|Lines|AsConfig|AsSecrets)\s+"([^"]*)"`)

// marker is the call mark puts before a template's first line.
func marker(name string) string { return fmt.Sprintf("{{ __tmc_at %q }}", name) }

var lineOne = regexp.MustCompile(`([^\s():"]+):1:(\d+)`)

// unmark gives columns on a template's first line back as written.
func unmark(err error) error {
	msg := lineOne.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := lineOne.FindStringSubmatch(m)
		col, _ := strconv.Atoi(sub[2])
		if n := len(marker(sub[1])); col > n {
			return fmt.Sprintf("%s:1:%d", sub[1], col-n)
		}
		return m
	})
	return errors.New(msg)
}

// mark prefixes every template (not partials) with a call that tells the
// watchdog where the render is, on its first line (no line moves).
func mark(ch *chartv2.Chart) {
	for _, t := range ch.Templates {
		if strings.HasPrefix(path.Base(t.Name), "_") || !strings.HasPrefix(t.Name, "templates/") {
			continue
		}
		name := path.Join(ch.ChartFullPath(), t.Name)
		t.Data = append([]byte(marker(name)), t.Data...)
	}
	for _, d := range ch.Dependencies() {
		mark(d)
	}
}
