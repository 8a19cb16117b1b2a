package fieldpath

import (
	"fmt"
)

// Get returns the value at p in plain data (maps, lists, scalars), and whether it exists.
func Get(obj map[string]any, p Path) (any, bool) {
	var cur any = obj
	for _, s := range p.Segments {
		next, ok := step(cur, s)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

func step(cur any, s Segment) (any, bool) {
	switch s.Kind {
	case Field:
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[s.Key]
		return v, ok
	case Index:
		l, ok := cur.([]any)
		if !ok || s.Index >= len(l) {
			return nil, false
		}
		return l[s.Index], true
	default:
		l, ok := cur.([]any)
		if !ok {
			return nil, false
		}
		for _, item := range l {
			if m, ok := item.(map[string]any); ok && fmt.Sprint(m[s.Key]) == s.Value {
				return item, true
			}
		}
		return nil, false
	}
}

// Delete removes the field or list item at p; it reports whether something was removed.
func Delete(obj map[string]any, p Path) bool {
	segs := p.Segments
	parentPath := Path{Segments: segs[:len(segs)-1]}
	parent, ok := Get(obj, parentPath)
	if !ok {
		return false
	}
	last := segs[len(segs)-1]
	switch last.Kind {
	case Field:
		m, ok := parent.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m[last.Key]; !ok {
			return false
		}
		delete(m, last.Key)
		return true
	default:
		l, ok := parent.([]any)
		if !ok {
			return false
		}
		for i, item := range l {
			if (last.Kind == Index && i == last.Index) || (last.Kind == Select && matches(item, last)) {
				return setAt(obj, parentPath, append(append([]any{}, l[:i]...), l[i+1:]...))
			}
		}
		return false
	}
}

func matches(item any, s Segment) bool {
	m, ok := item.(map[string]any)
	return ok && fmt.Sprint(m[s.Key]) == s.Value
}

// setAt replaces the value at a path that exists.
func setAt(obj map[string]any, p Path, v any) bool {
	if len(p.Segments) == 0 {
		return false
	}
	_, err := Set(obj, p, v)
	return err == nil
}

// Set writes v at p, creating missing maps (and lists for [N] at the end of a
// list or [key=value] items) on the way; it reports whether the field existed.
func Set(obj map[string]any, p Path, v any) (existed bool, err error) {
	var cur any = obj
	segs := p.Segments
	for i, s := range segs {
		last := i == len(segs)-1
		switch s.Kind {
		case Field:
			m, ok := cur.(map[string]any)
			if !ok {
				return false, fmt.Errorf("cannot set %s: %s is not a mapping", p, Path{Segments: segs[:i]})
			}
			if last {
				_, existed = m[s.Key]
				m[s.Key] = v
				return existed, nil
			}
			next, ok := m[s.Key]
			if !ok || next == nil {
				next = empty(segs[i+1])
				m[s.Key] = next
			}
			if l, isList := next.([]any); isList {
				// Lists are values in Go: keep the parent pointing at the grown list.
				grown, err := setInList(l, segs[i+1:], v, p)
				if err != nil {
					return false, err
				}
				m[s.Key] = grown.list
				return grown.existed, nil
			}
			cur = next
		default:
			return false, fmt.Errorf("cannot set %s: a list step must follow a field", p)
		}
	}
	return false, nil
}

type grown struct {
	list    []any
	existed bool
}

func setInList(l []any, segs []Segment, v any, p Path) (grown, error) {
	s := segs[0]
	idx := -1
	switch s.Kind {
	case Index:
		switch {
		case s.Index < len(l):
			idx = s.Index
		case s.Index == len(l):
			l = append(l, nil)
			idx = s.Index
		default:
			return grown{}, fmt.Errorf("cannot set %s: index %d is past the end of a list of %d", p, s.Index, len(l))
		}
	case Select:
		for i, item := range l {
			if matches(item, s) {
				idx = i
			}
		}
		if idx < 0 {
			l = append(l, map[string]any{s.Key: s.Value})
			idx = len(l) - 1
		}
	default:
		return grown{}, fmt.Errorf("cannot set %s: a field step cannot index a list", p)
	}
	if len(segs) == 1 {
		existed := l[idx] != nil
		l[idx] = v
		return grown{l, existed}, nil
	}
	item := l[idx]
	if item == nil {
		item = empty(segs[1])
	}
	switch it := item.(type) {
	case map[string]any:
		existed, err := Set(it, Path{Segments: segs[1:]}, v)
		l[idx] = it
		return grown{l, existed}, err
	case []any:
		g, err := setInList(it, segs[1:], v, p)
		l[idx] = g.list
		return grown{l, g.existed}, err
	}
	return grown{}, fmt.Errorf("cannot set %s: a list item is a scalar", p)
}

func empty(next Segment) any {
	if next.Kind == Field {
		return map[string]any{}
	}
	return []any{}
}
