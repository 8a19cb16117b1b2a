package syncer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"golang.org/x/time/rate"
)

// MaxHookBody bounds a webhook request's body (GitHub's pushes are far
// smaller unless a push carries thousands of commits; tmc needs only the ref).
const MaxHookBody = 256 << 10

// receiver answers git hosts' push webhooks: a valid push to the synced
// branch triggers a fetch and reconcile at once (Trigger coalesces a burst
// into one); anything else is answered and does nothing.
type receiver struct {
	s       *Syncer
	secret  []byte
	limiter *rate.Limiter
	mu      sync.Mutex
	seen    map[string]bool // delivery IDs and pushed (ref, after) pairs already handled
	order   []string
}

const maxSeen = 1024

// hookHosts are the git hosts a receiver speaks: path /hooks/{host}.
var hookHosts = []string{"github", "gitlab", "gitea", "forgejo", "bitbucket", "generic"}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	host := r.PathValue("host")
	caller, _, _ := net.SplitHostPort(r.RemoteAddr)
	reply := func(code int, result, msg string) {
		rc.s.metrics.WebhookRequests.WithLabelValues(host, result).Inc()
		rc.s.opts.Logf("webhook %s from %s (%s): %d %s", host, caller, r.Header.Get("User-Agent"), code, msg)
		writeJSON(w, code, map[string]string{"result": result, "message": msg})
	}
	if !slices.Contains(hookHosts, host) {
		reply(http.StatusNotFound, "unknown", "no receiver for "+host+"; use one of "+strings.Join(hookHosts, ", "))
		return
	}
	if !rc.limiter.Allow() {
		reply(http.StatusTooManyRequests, "rate_limited", "too many webhook requests")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxHookBody+1))
	if err != nil {
		reply(http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if len(body) > MaxHookBody {
		reply(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d KiB", MaxHookBody>>10))
		return
	}
	if !rc.verify(host, r, body) {
		reply(http.StatusUnauthorized, "bad_signature", "missing or wrong signature or token")
		return
	}
	event, delivery := hookEvent(host, r)
	if event == "ping" {
		reply(http.StatusOK, "ping", "pong")
		return
	}
	ref, after, ok := pushOf(host, event, body)
	if !ok {
		reply(http.StatusAccepted, "ignored", fmt.Sprintf("event %q is not a push; nothing to do", event))
		return
	}
	if b := rc.s.opts.Branch; b != "" && ref != "refs/heads/"+b && ref != b {
		reply(http.StatusAccepted, "ignored", fmt.Sprintf("push to %s, not to the synced branch %s", ref, b))
		return
	}
	if rc.replayed(delivery, ref+"@"+after) {
		reply(http.StatusConflict, "replayed", "this delivery or push was handled already")
		return
	}
	rc.s.Trigger()
	reply(http.StatusAccepted, "triggered", "push to "+ref+": fetching and reconciling")
}

// verify checks the host's signature (HMAC-SHA256 of the body) or token,
// in constant time.
func (rc *receiver) verify(host string, r *http.Request, body []byte) bool {
	mac := hmac.New(sha256.New, rc.secret)
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	eq := func(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
	switch host {
	case "github":
		return eq(r.Header.Get("X-Hub-Signature-256"), "sha256="+want)
	case "gitlab":
		return eq(r.Header.Get("X-Gitlab-Token"), string(rc.secret))
	case "gitea":
		return eq(r.Header.Get("X-Gitea-Signature"), want)
	case "forgejo":
		return eq(r.Header.Get("X-Forgejo-Signature"), want) || eq(r.Header.Get("X-Gitea-Signature"), want)
	case "bitbucket":
		return eq(r.Header.Get("X-Hub-Signature"), "sha256="+want)
	case "generic":
		return eq(r.Header.Get("X-Signature-256"), "sha256="+want)
	}
	return false
}

// hookEvent is the event name and delivery ID a host sends.
func hookEvent(host string, r *http.Request) (event, delivery string) {
	switch host {
	case "github":
		return r.Header.Get("X-GitHub-Event"), r.Header.Get("X-GitHub-Delivery")
	case "gitlab":
		return r.Header.Get("X-Gitlab-Event"), r.Header.Get("X-Gitlab-Event-UUID")
	case "gitea":
		return r.Header.Get("X-Gitea-Event"), r.Header.Get("X-Gitea-Delivery")
	case "forgejo":
		return r.Header.Get("X-Forgejo-Event"), r.Header.Get("X-Forgejo-Delivery")
	case "bitbucket":
		return r.Header.Get("X-Event-Key"), r.Header.Get("X-Request-UUID")
	}
	return r.Header.Get("X-Event"), r.Header.Get("X-Delivery")
}

// pushOf reads the pushed ref and new commit of a push event.
func pushOf(host, event string, body []byte) (ref, after string, ok bool) {
	switch host {
	case "github", "gitea", "forgejo", "generic":
		if event != "push" {
			return "", "", false
		}
	case "gitlab":
		if event != "Push Hook" {
			return "", "", false
		}
	case "bitbucket":
		if event == "repo:refs_changed" { // Bitbucket Data Center
			var p struct {
				Changes []struct {
					Ref    struct{ ID string } `json:"ref"`
					ToHash string              `json:"toHash"`
				} `json:"changes"`
			}
			if json.Unmarshal(body, &p) != nil || len(p.Changes) == 0 {
				return "", "", false
			}
			return p.Changes[0].Ref.ID, p.Changes[0].ToHash, true
		}
		if event != "repo:push" {
			return "", "", false
		}
		var p struct {
			Push struct {
				Changes []struct {
					New struct {
						Name   string `json:"name"`
						Target struct {
							Hash string `json:"hash"`
						} `json:"target"`
					} `json:"new"`
				} `json:"changes"`
			} `json:"push"`
		}
		if json.Unmarshal(body, &p) != nil || len(p.Push.Changes) == 0 {
			return "", "", false
		}
		c := p.Push.Changes[0].New
		return "refs/heads/" + c.Name, c.Target.Hash, true
	}
	var p struct {
		Ref   string `json:"ref"`
		After string `json:"after"`
	}
	if json.Unmarshal(body, &p) != nil || p.Ref == "" {
		return "", "", false
	}
	return p.Ref, p.After, true
}

// replayed records a delivery and a push, and reports whether either was
// handled before (a replayed request, or the same push sent again).
func (rc *receiver) replayed(keys ...string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, k := range keys {
		if k != "" && !strings.HasSuffix(k, "@") && rc.seen[k] {
			return true
		}
	}
	for _, k := range keys {
		if k == "" || strings.HasSuffix(k, "@") {
			continue
		}
		rc.seen[k] = true
		rc.order = append(rc.order, k)
	}
	for len(rc.order) > maxSeen {
		delete(rc.seen, rc.order[0])
		rc.order = rc.order[1:]
	}
	return false
}
