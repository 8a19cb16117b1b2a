package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/limits"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/render"
)

// FormatVersion is the version of the plan's JSON form.
const FormatVersion = "1"

// Action is what a change does to one object.
type Action string

// Actions.
const (
	Create    Action = "create"
	Update    Action = "update"
	Delete    Action = "delete"
	Unchanged Action = "unchanged"
	// Skip is an object tmc cannot plan: its cluster is unreachable, or the
	// dry-run failed (see Error).
	Skip Action = "skip"
)

// Actions lists the actions in the order views print them.
var Actions = []Action{Create, Update, Delete, Unchanged, Skip}

// Plan is what converging the clusters would change. It holds no object
// contents, only masked diffs and digests, so that a saved plan carries no
// secret: applying a saved plan re-renders the tree and checks the digests.
type Plan struct {
	// FormatVersion is FormatVersion.
	FormatVersion string `json:"formatVersion"`
	// Revision is the git revision of the policy tree, when known.
	Revision string `json:"revision,omitempty"`
	// Changes in order of workspace, cluster and object (apply order).
	Changes []*Change `json:"changes"`
	// Clusters says which clusters were reached.
	Clusters []ClusterState `json:"clusters"`
	// Summary counts changes per action.
	Summary Summary `json:"summary"`
	// Rollouts are the waves of the workspaces that roll out in waves:
	// which clusters each wave holds and why (a reviewer reads them
	// before merging; apply takes the revision wave by wave).
	Rollouts []Rollout `json:"rollouts,omitempty"`
}

// Rollout is one workspace's waves in a plan.
type Rollout struct {
	Workspace      string        `json:"workspace"`
	LogicalCluster string        `json:"logicalCluster"`
	Waves          []render.Wave `json:"waves"`
}

// Change is one object's change on one cluster.
type Change struct {
	Workspace      string `json:"workspace"`
	LogicalCluster string `json:"logicalCluster"`
	Cluster        string `json:"cluster"`
	Action         Action `json:"action"`
	APIVersion     string `json:"apiVersion"`
	Kind           string `json:"kind"`
	Namespace      string `json:"namespace,omitempty"`
	Name           string `json:"name"`
	// Diff is a unified diff of the live object and the dry-run result, with Secret values masked.
	Diff string `json:"diff,omitempty"`
	// Reason says why an object is deleted or skipped.
	Reason string `json:"reason,omitempty"`
	// Conflict names the fields another field manager owns (apply needs --force-conflicts).
	Conflict string `json:"conflict,omitempty"`
	// Owner is set when another workspace (logicalCluster/name) owns the
	// object on this cluster: its inventory records it, or it renders it. The
	// change is then skipped: one object on one cluster belongs to one workspace.
	Owner string `json:"owner,omitempty"`
	// Release is set on a skipped prune whose object another workspace now
	// renders: apply drops it from this workspace's inventory without deleting it.
	Release bool `json:"release,omitempty"`
	// Error is why the object could not be planned.
	Error string `json:"error,omitempty"`
	// ResourceVersion is the live object's at plan time ("" when it does not exist).
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Digest is a hash of the desired object, checked when a saved plan is applied.
	Digest string `json:"digest,omitempty"`
	// Drift is set on an update that reverts someone else's edit: the field
	// manager that last wrote a field git sets, after tmc's own apply.
	Drift *Drift `json:"drift,omitempty"`
	// DriftReported is set on a drift the workspace reports without
	// correcting (spec.drift: Report): the change is not applied.
	DriftReported bool `json:"driftReported,omitempty"`
	// LastApplied is when tmc last applied the live object (its managedFields
	// entry), RFC 3339; "" when tmc never applied it.
	LastApplied string `json:"lastApplied,omitempty"`
	// Local is set on an unchanged object decided from the live object alone,
	// without a dry-run request.
	Local bool `json:"local,omitempty"`
	// DryRun says why an existing object was dry-run on the server instead
	// of being decided locally (one of the DryRun… reasons).
	DryRun string `json:"dryRun,omitempty"`
	// Object is the desired object (not saved).
	Object *unstructured.Unstructured `json:"-"`
}

// ID returns the change's object ID.
func (c *Change) ID() object.ID {
	return object.FromAPIVersion(c.APIVersion, c.Kind, c.Namespace, c.Name)
}

// ClusterState is a cluster as the plan saw it: the run's probe verdict
// (cluster.State: name, health, reachability and why not) and what was read
// of tmc's inventories there.
type ClusterState struct {
	cluster.State
	// Inventories are the inventory resourceVersions read, by logicalCluster/workspace.
	Inventories map[string]string `json:"inventories,omitempty"`
	// Applied says, by logicalCluster/workspace, when tmc first applied the
	// workspace here and when it last changed what it holds (its inventory).
	Applied map[string]AppliedTimes `json:"applied,omitempty"`
}

// Drift says who changed an object tmc applied, and when.
type Drift struct {
	// Manager is the field manager that wrote the fields (kubectl-edit, a controller, …).
	Manager string `json:"manager"`
	// Operation is Update or Apply.
	Operation string `json:"operation"`
	// Time is when it last wrote them (RFC 3339).
	Time string `json:"time"`
	// Subresource is set when the write went through one (scale).
	Subresource string `json:"subresource,omitempty"`
}

// AppliedTimes are RFC 3339 times of a workspace's inventory on a cluster.
type AppliedTimes struct {
	Created string `json:"created"`
	Updated string `json:"updated"`
	// Revision is the revision whose apply last changed the workspace
	// here, Previous the one before it (as the inventory records them).
	Revision string `json:"revision,omitempty"`
	Previous string `json:"previous,omitempty"`
	// Approved are the rollout waves whose manual gate a person lifted for
	// the revision being rolled out (tmc rollout resume), as the inventory records them.
	Approved []string `json:"approved,omitempty"`
}

// Summary counts changes per action.
type Summary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Delete    int `json:"delete"`
	Unchanged int `json:"unchanged"`
	Skip      int `json:"skip"`
	Conflicts int `json:"conflicts"`
	// Owned counts objects skipped because another workspace owns them.
	Owned int `json:"owned"`
	// Released counts objects a workspace stopped rendering that another
	// workspace now renders: dropped from its inventory, not deleted.
	Released int `json:"released"`
	Errors   int `json:"errors"`
	// Drifted counts updates that revert someone else's edit; DriftReported
	// those a workspace reports without correcting (not applied, not skips).
	Drifted       int `json:"drifted"`
	DriftReported int `json:"driftReported"`
	// Local counts unchanged objects decided without a dry-run request.
	Local int `json:"local"`
	// DryRuns counts, by reason, the existing objects that were dry-run.
	DryRuns map[string]int `json:"dryRuns,omitempty"`
}

// Count returns the number of changes with an action.
func (s Summary) Count(a Action) int {
	switch a {
	case Create:
		return s.Create
	case Update:
		return s.Update
	case Delete:
		return s.Delete
	case Unchanged:
		return s.Unchanged
	}
	return s.Skip
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	return p.Summary.Create+p.Summary.Update+p.Summary.Delete > 0
}

// Unreachable returns the clusters that could not be reached.
func (p *Plan) Unreachable() []ClusterState {
	var out []ClusterState
	for _, c := range p.Clusters {
		if !c.Reachable {
			out = append(out, c)
		}
	}
	return out
}

func (p *Plan) summarize() { p.Summary = Summarize(p.Changes) }

// Summarize counts changes per action, conflicts and errors.
func Summarize(changes []*Change) Summary {
	s := Summary{}
	for _, c := range changes {
		switch c.Action {
		case Create:
			s.Create++
		case Update:
			s.Update++
		case Delete:
			s.Delete++
		case Unchanged:
			s.Unchanged++
		case Skip:
			switch {
			case c.Release:
				s.Released++ // handed to another workspace: not a failure
			case c.DriftReported:
				s.DriftReported++ // the workspace asked to leave the edit: not a failure
			default:
				s.Skip++
			}
		}
		if c.Drift != nil && !c.DriftReported {
			s.Drifted++
		}
		if c.Conflict != "" {
			s.Conflicts++
		}
		if c.Owner != "" && !c.Release {
			s.Owned++
		}
		if c.Error != "" {
			s.Errors++
		}
		if c.Local {
			s.Local++
		}
		if c.DryRun != "" {
			if s.DryRuns == nil {
				s.DryRuns = map[string]int{}
			}
			s.DryRuns[c.DryRun]++
		}
	}
	return s
}

// Save writes the plan as JSON.
func (p *Plan) Save(path string) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o600)
}

// Read reads a saved plan of at most limits.MaxPlanFile bytes.
func Read(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limits.MaxPlanFile+1))
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	if len(data) > limits.MaxPlanFile {
		return nil, fmt.Errorf("plan %s is larger than %d MiB", path, limits.MaxPlanFile>>20)
	}
	return Parse(path, data)
}

// Parse decodes a saved plan; name is used in errors. Only the fields of
// Plan are read (unknown fields are an error), so the decoder's memory is
// bounded by the input.
func Parse(name string, data []byte) (*Plan, error) {
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", name, err)
	}
	if p.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("plan %s has formatVersion %q; this tmc reads %q", name, p.FormatVersion, FormatVersion)
	}
	return &p, nil
}
