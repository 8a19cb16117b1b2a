// Package notify delivers tmc sync's events to the providers the operator
// configured: a generic webhook (JSON, HMAC-signed), Slack and Teams/chat
// incoming webhooks, and commit statuses on GitHub and GitLab. Providers —
// their URLs and credentials — come only from trusted configuration (a file
// the operator names); the policy repo may only route events to providers
// by name. Delivery never blocks a reconcile: each provider has a bounded
// queue and its own worker, retries with backoff until a deadline, and
// counts every delivery in tmc_notifications_total{provider,result}.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"
)

// Event types.
const (
	RevisionApplied    = "RevisionApplied"
	RevisionRejected   = "RevisionRejected"
	WorkspaceError     = "WorkspaceError"
	WorkspaceRecovered = "WorkspaceRecovered"
	ClusterUnreachable = "ClusterUnreachable"
	ClusterBack        = "ClusterBack"
	DriftCorrected     = "DriftCorrected"
	DriftReported      = "DriftReported"
	WaveStarted        = "WaveStarted"
	WaveCompleted      = "WaveCompleted"
	WaveHalted         = "WaveHalted"
)

// Types are every event type, for validation.
var Types = []string{RevisionApplied, RevisionRejected, WorkspaceError, WorkspaceRecovered, ClusterUnreachable, ClusterBack,
	DriftCorrected, DriftReported, WaveStarted, WaveCompleted, WaveHalted}

// FormatVersion is the version of the event payload (docs/notifications.schema.json).
const FormatVersion = "1"

// Event is one thing that happened, sent once when it happens.
type Event struct {
	FormatVersion string `json:"formatVersion"`
	// Key is stable for the event: a receiver de-duplicates on it.
	Key  string `json:"key"`
	Type string `json:"type"`
	// Time is when tmc saw it happen (RFC 3339).
	Time string `json:"time"`
	// Revision is the git commit the event is about, when there is one.
	Revision  string `json:"revision,omitempty"`
	Workspace string `json:"workspace,omitempty"`
	Cluster   string `json:"cluster,omitempty"`
	Wave      string `json:"wave,omitempty"`
	Object    string `json:"object,omitempty"`
	Manager   string `json:"manager,omitempty"`
	// Message is one line for people.
	Message string `json:"message"`
	// Counts are a RevisionApplied's plan counts.
	Counts *Counts `json:"counts,omitempty"`
	// Clusters and Converged count a RevisionApplied's target clusters and those converged.
	Clusters  int `json:"clusters,omitempty"`
	Converged int `json:"converged,omitempty"`
	// Errors are a RevisionRejected's validation errors (Secret-free: tmc
	// quotes no manifest value in them).
	Errors []string `json:"errors,omitempty"`
}

// Counts are a plan's changes.
type Counts struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Delete    int `json:"delete"`
	Unchanged int `json:"unchanged"`
}

// NewKey makes an event key from what identifies the event.
func NewKey(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:12])
}

// Provider is one destination, configured by the operator.
type Provider struct {
	Name string `json:"name"`
	// Type is webhook, slack, teams (or chat: any {"text": …} webhook), github or gitlab.
	Type string `json:"type"`
	// URL (or URLFile, a file holding it) is where webhook, slack and
	// teams post; for github and gitlab the API base (default
	// https://api.github.com, https://gitlab.com).
	URL     string `json:"url,omitempty"`
	URLFile string `json:"urlFile,omitempty"`
	// SecretFile holds the HMAC key of a webhook (X-Tmc-Signature-256).
	SecretFile string `json:"secretFile,omitempty"`
	// TokenFile holds the API token of github or gitlab.
	TokenFile string `json:"tokenFile,omitempty"`
	// Repository is github's owner/name or gitlab's project path or ID.
	Repository string `json:"repository,omitempty"`
	// Events the provider gets when the repo routes none to it (all when empty).
	Events []string `json:"events,omitempty"`

	secret, token []byte
}

// Config is the operator's notification configuration.
type Config struct {
	Providers []Provider `json:"providers"`
}

// LoadConfig reads the operator's providers file and the files it names.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("notifications %s: %w", path, err)
	}
	seen := map[string]bool{}
	read := func(p, what string) ([]byte, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("notifications %s: %s: %w", path, what, err)
		}
		return bytes.TrimSpace(b), nil
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		if p.Name == "" || seen[p.Name] {
			return nil, fmt.Errorf("notifications %s: providers[%d]: a unique name is required", path, i)
		}
		seen[p.Name] = true
		switch p.Type {
		case "webhook", "slack", "teams", "chat", "github", "gitlab":
		default:
			return nil, fmt.Errorf("notifications %s: provider %s: type %q: one of webhook, slack, teams, chat, github, gitlab", path, p.Name, p.Type)
		}
		if p.URLFile != "" {
			b, err := read(p.URLFile, "urlFile")
			if err != nil {
				return nil, err
			}
			p.URL = string(b)
		}
		if p.SecretFile != "" {
			if p.secret, err = read(p.SecretFile, "secretFile"); err != nil {
				return nil, err
			}
		}
		if p.TokenFile != "" {
			if p.token, err = read(p.TokenFile, "tokenFile"); err != nil {
				return nil, err
			}
		}
		switch {
		case (p.Type == "github" || p.Type == "gitlab") && (p.Repository == "" || len(p.token) == 0):
			return nil, fmt.Errorf("notifications %s: provider %s: %s needs repository and tokenFile", path, p.Name, p.Type)
		case p.Type != "github" && p.Type != "gitlab" && p.URL == "":
			return nil, fmt.Errorf("notifications %s: provider %s: url or urlFile is required", path, p.Name)
		}
		if p.URL != "" {
			if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, fmt.Errorf("notifications %s: provider %s: %q is not an http(s) URL", path, p.Name, p.URL)
			}
		}
		for _, e := range p.Events {
			if !slices.Contains(Types, e) {
				return nil, fmt.Errorf("notifications %s: provider %s: unknown event %q", path, p.Name, e)
			}
		}
	}
	return &c, nil
}

// Route sends some events to a provider, named by the repo (policy Config).
type Route struct {
	Provider   string
	Events     []string
	Workspaces []string
}

// Options tune delivery.
type Options struct {
	// Queue bounds each provider's queue; Timeout one request; Deadline an
	// event's delivery with its retries.
	Queue             int
	Timeout, Deadline time.Duration
	// Backoff is the first retry's wait, doubled each time.
	Backoff time.Duration
	// Counter is tmc_notifications_total{provider,result}.
	Counter *prometheus.CounterVec
	// Failed is told of a delivery that failed for good.
	Failed func(provider, msg string)
	Logf   func(string, ...any)
}

// Notifier delivers events.
type Notifier struct {
	opts    Options
	client  *http.Client
	mu      sync.RWMutex
	routes  []Route
	workers map[string]*worker
}

type worker struct {
	p     *Provider
	queue chan Event
}

// New starts nothing yet; Run starts the workers.
func New(c *Config, o Options) *Notifier {
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Deadline <= 0 {
		o.Deadline = 2 * time.Minute
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	n := &Notifier{opts: o, client: &http.Client{Timeout: o.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, workers: map[string]*worker{}}
	if c != nil {
		for i := range c.Providers {
			p := &c.Providers[i]
			n.workers[p.Name] = &worker{p: p, queue: make(chan Event, o.Queue)}
		}
	}
	return n
}

// SetRoutes replaces the repo's routes (from the revision in use).
func (n *Notifier) SetRoutes(rs []Route) {
	n.mu.Lock()
	n.routes = rs
	n.mu.Unlock()
}

// Run delivers until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range n.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-w.queue:
					n.deliver(ctx, w.p, ev)
				}
			}
		}()
	}
	wg.Wait()
}

// Send queues an event for every provider it goes to; it never blocks.
func (n *Notifier) Send(ev Event) {
	if n == nil {
		return
	}
	ev.FormatVersion = FormatVersion
	if ev.Time == "" {
		ev.Time = time.Now().UTC().Format(time.RFC3339)
	}
	n.mu.RLock()
	routes := n.routes
	n.mu.RUnlock()
	for name, w := range n.workers {
		if !wants(w.p, routes, ev) {
			continue
		}
		select {
		case w.queue <- ev:
		default:
			n.count(name, "dropped")
			n.opts.Logf("notification %s to %s dropped: its queue is full", ev.Type, name)
		}
	}
}

// wants: the repo's routes for the provider decide when there are any;
// otherwise the provider's own event list (all events when empty).
func wants(p *Provider, routes []Route, ev Event) bool {
	routed := false
	for _, r := range routes {
		if r.Provider != p.Name {
			continue
		}
		routed = true
		if (len(r.Events) == 0 || slices.Contains(r.Events, ev.Type)) && (len(r.Workspaces) == 0 || ev.Workspace == "" || slices.Contains(r.Workspaces, ev.Workspace) || slices.Contains(r.Workspaces, ev.Workspace[strings.LastIndex(ev.Workspace, "/")+1:])) {
			return true
		}
	}
	if routed {
		return false
	}
	if p.Type == "github" || p.Type == "gitlab" {
		if state, _, _ := commitStatus(ev); state == "" {
			return false // says nothing of a commit
		}
	}
	return len(p.Events) == 0 || slices.Contains(p.Events, ev.Type)
}

func (n *Notifier) count(provider, result string) {
	if n.opts.Counter != nil {
		n.opts.Counter.WithLabelValues(provider, result).Inc()
	}
}

// deliver sends one event, retrying with backoff until the deadline.
func (n *Notifier) deliver(ctx context.Context, p *Provider, ev Event) {
	req, err := request(p, ev)
	if err != nil {
		n.count(p.Name, "skipped")
		return
	}
	if req == nil {
		return // nothing to say to this provider about this event
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.Deadline)
	defer cancel()
	wait := n.opts.Backoff
	for attempt := 1; ; attempt++ {
		err := n.do(ctx, req)
		if err == nil {
			n.count(p.Name, "success")
			return
		}
		n.count(p.Name, "retry")
		select {
		case <-ctx.Done():
			n.count(p.Name, "failure")
			msg := fmt.Sprintf("%s %s: %v (after %d attempts)", ev.Type, ev.Key, err, attempt)
			n.opts.Logf("notification to %s failed: %s", p.Name, msg)
			if n.opts.Failed != nil {
				n.opts.Failed(p.Name, msg)
			}
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

type outgoing struct {
	method, url string
	body        []byte
	header      http.Header
}

func (n *Notifier) do(ctx context.Context, o *outgoing) error {
	req, err := http.NewRequestWithContext(ctx, o.method, o.url, bytes.NewReader(o.body))
	if err != nil {
		return err
	}
	req.Header = o.header.Clone()
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", redactURL(o.url), resp.Status)
	}
	return nil
}

// redactURL keeps a URL's scheme and host: Slack and Teams URLs are secrets.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(url)"
	}
	return u.Scheme + "://" + u.Host
}

// request builds what a provider gets for an event (nil: nothing).
func request(p *Provider, ev Event) (*outgoing, error) {
	h := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"tmc"}}
	switch p.Type {
	case "webhook":
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		h.Set("X-Tmc-Event", ev.Type)
		h.Set("X-Tmc-Delivery", ev.Key)
		if len(p.secret) > 0 {
			h.Set("X-Tmc-Signature-256", "sha256="+Sign(p.secret, body))
		}
		return &outgoing{"POST", p.URL, body, h}, nil
	case "slack", "teams", "chat":
		body, _ := json.Marshal(map[string]string{"text": Text(ev)})
		return &outgoing{"POST", p.URL, body, h}, nil
	case "github", "gitlab":
		state, desc, ctxName := commitStatus(ev)
		if ev.Revision == "" || state == "" {
			return nil, nil
		}
		if p.Type == "github" {
			base := strings.TrimSuffix(p.URL, "/")
			if base == "" {
				base = "https://api.github.com"
			}
			body, _ := json.Marshal(map[string]string{"state": state, "description": desc, "context": ctxName})
			h.Set("Authorization", "Bearer "+string(p.token))
			h.Set("Accept", "application/vnd.github+json")
			return &outgoing{"POST", base + "/repos/" + p.Repository + "/statuses/" + ev.Revision, body, h}, nil
		}
		base := strings.TrimSuffix(p.URL, "/")
		if base == "" {
			base = "https://gitlab.com"
		}
		if state == "failure" {
			state = "failed"
		}
		q := url.Values{"state": {state}, "name": {ctxName}, "description": {desc}}
		h.Set("PRIVATE-TOKEN", string(p.token))
		return &outgoing{"POST", base + "/api/v4/projects/" + url.PathEscape(p.Repository) + "/statuses/" + ev.Revision + "?" + q.Encode(), nil, h}, nil
	}
	return nil, fmt.Errorf("unknown provider type %q", p.Type)
}

// Sign is the hex HMAC-SHA256 of body under key.
func Sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// commitStatus is what a commit shows for an event ("" for an event that
// sets no commit status): a revision applied (success, pending while some
// cluster has not converged) or rejected (failure); a workspace in error
// on it or a rollout halted on it (failure); the workspace recovered
// (success once every cluster converged again, else pending) — so the
// status left on a commit is the workspace's last word on it.
func commitStatus(ev Event) (state, desc, context string) {
	context = "tmc"
	if ev.Workspace != "" {
		context = "tmc/" + ev.Workspace
	}
	converged := func(prefix string) (string, string) {
		st := "success"
		if ev.Clusters == 0 || ev.Converged < ev.Clusters {
			st = "pending"
		}
		return st, fmt.Sprintf("tmc: %s%d/%d clusters converged", prefix, ev.Converged, ev.Clusters)
	}
	switch ev.Type {
	case RevisionRejected:
		state, desc = "failure", "tmc: rejected: "+ev.Message
	case RevisionApplied:
		state, desc = converged("")
	case WorkspaceError:
		state, desc = "failure", "tmc: error: "+ev.Message
	case WorkspaceRecovered:
		state, desc = converged("recovered, ")
	case WaveHalted:
		state, desc = "failure", "tmc: rollout halted at wave "+ev.Wave+": "+ev.Message
	default:
		return "", "", ""
	}
	if len(desc) > 140 {
		desc = desc[:139] + "…"
	}
	return state, desc, context
}

// Text is an event as one line for chat.
func Text(ev Event) string {
	where := ""
	if ev.Workspace != "" {
		where = " " + ev.Workspace
	}
	rev := ""
	if ev.Revision != "" {
		rev = " @ " + ev.Revision[:min(12, len(ev.Revision))]
	}
	return fmt.Sprintf("tmc %s%s%s: %s", ev.Type, where, rev, ev.Message)
}
