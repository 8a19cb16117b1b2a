package cluster

import "errors"

// State is what one run's probe found of a cluster: made once (Reached or
// Unreached) by the probe that reads the cluster's facts, then carried by
// the render, the plan, apply results, aggregated views and statuses
// alike, so that one run never sees a cluster both reachable and not and
// every view labels it the same way.
type State struct {
	Name string `json:"name"`
	// Healthy is the cluster's health as the probe read it (an unreachable
	// cluster is not healthy).
	Healthy bool `json:"healthy"`
	// Reachable is false when the probe could not reach the cluster; Err says why.
	Reachable bool `json:"reachable"`
	// Err is why the cluster could not be reached (nil when it was): an
	// error value until a view prints it.
	Err *Problem `json:"error,omitempty"`
}

// Reached is the state of a cluster the probe reached.
func Reached(name string, healthy bool) State {
	return State{Name: name, Healthy: healthy, Reachable: true}
}

// Unreached is the state of a cluster the probe could not reach.
func Unreached(name string, err error) State {
	return State{Name: name, Err: NewProblem(err)}
}

// The labels of a cluster state, as every view prints them.
const (
	LabelHealthy     = "healthy"
	LabelUnhealthy   = "unhealthy"
	LabelUnreachable = "unreachable"
)

// Label is the one word every view prints for the state.
func (s State) Label() string {
	switch {
	case !s.Reachable:
		return LabelUnreachable
	case !s.Healthy:
		return LabelUnhealthy
	}
	return LabelHealthy
}

// Error is why the cluster could not be reached, or nil.
func (s State) Error() error {
	if s.Err == nil {
		return nil
	}
	return s.Err
}

// Message is Error's text, or "".
func (s State) Message() string {
	if s.Err == nil {
		return ""
	}
	return s.Err.Error()
}

// Problem is an error kept as a value in a type that is also written as
// JSON: it marshals as its message and reads back as an error with that
// message. errors.Is and errors.As see the error it holds.
type Problem struct{ err error }

// NewProblem wraps err; nil for nil.
func NewProblem(err error) *Problem {
	if err == nil {
		return nil
	}
	if p, ok := err.(*Problem); ok {
		return p
	}
	return &Problem{err: err}
}

func (p *Problem) Error() string {
	if p == nil || p.err == nil {
		return ""
	}
	return p.err.Error()
}

// Unwrap returns the error the problem holds.
func (p *Problem) Unwrap() error { return p.err }

// MarshalText writes the message.
func (p *Problem) MarshalText() ([]byte, error) { return []byte(p.Error()), nil }

// UnmarshalText reads a message back as an error.
func (p *Problem) UnmarshalText(b []byte) error {
	p.err = errors.New(string(b))
	return nil
}
