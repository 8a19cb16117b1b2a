package aggregate

import (
	"bytes"
	"encoding/json"
	"time"

	smd "sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/kcp-dev/tmc/internal/fieldpath"
)

// write is one managedFields entry: which manager last wrote which fields, when.
type write struct {
	manager string
	at      time.Time
	set     *smd.Set
}

// writes reads an object's managedFields. Entries that cannot be read are skipped.
func writes(obj map[string]any) []write {
	md, _ := obj["metadata"].(map[string]any)
	mfs, _ := md["managedFields"].([]any)
	var out []write
	for _, mf := range mfs {
		m, _ := mf.(map[string]any)
		manager, _ := m["manager"].(string)
		ts, _ := m["time"].(string)
		at, err := time.Parse(time.RFC3339, ts)
		if err != nil || m["fieldsV1"] == nil {
			continue
		}
		raw, err := json.Marshal(m["fieldsV1"])
		if err != nil {
			continue
		}
		set := &smd.Set{}
		if err := set.FromJSON(bytes.NewReader(raw)); err != nil {
			continue
		}
		out = append(out, write{manager: manager, at: at, set: set})
	}
	return out
}

// parsedWrites reads the instance's managedFields on first use.
func (inst *instance) parsedWrites() *instance {
	if inst.writes == nil && inst.mf != nil {
		inst.writes = writes(map[string]any{"metadata": map[string]any{"managedFields": inst.mf}})
	}
	return inst
}

// lastWrite is the newest write of the field at p, or of its nearest
// ancestor that a manager owns as a whole (an atomic list or map).
func (inst *instance) lastWrite(p smd.Path) (write, bool) {
	for n := len(p); n > 0; n-- {
		var best write
		found := false
		for _, w := range inst.writes {
			if w.set.Has(p[:n]) && (!found || w.at.After(best.at)) {
				best, found = w, true
			}
		}
		if found {
			return best, true
		}
	}
	return write{}, false
}

// lastWriter decides a LastWriter conflict field by field: the instance
// whose field was written last, by its managedFields — not the instance
// whose object changed last, which a status update makes meaningless. An
// instance without an entry for the field counts with its object's newest
// write; ties go to the order of order (latest object, then priority).
func lastWriter(order []*instance, vals map[string]any, path string) (*instance, write) {
	sp, ok := smdPath(path)
	var best *instance
	var bestW write
	var bestAt time.Time
	for _, inst := range order {
		if _, holds := vals[inst.cluster]; !holds {
			continue
		}
		w, found := write{}, false
		if ok {
			w, found = inst.lastWrite(sp)
		}
		at := inst.changed
		if found {
			at = w.at
		} else {
			w = write{}
		}
		if best == nil || at.After(bestAt) {
			best, bestW, bestAt = inst, w, at
		}
	}
	return best, bestW
}

// smdPath turns a merge path (jsonPath syntax, from the object root) into
// the path managedFields use: fields by name, [name=x] items by their key.
func smdPath(path string) (smd.Path, bool) {
	p, err := fieldpath.Parse(path)
	if err != nil {
		return nil, false
	}
	var out smd.Path
	for _, s := range p.Segments {
		switch s.Kind {
		case fieldpath.Field:
			out = append(out, smd.PathElement{FieldName: &s.Key})
		case fieldpath.Select:
			key := value.FieldList{{Name: s.Key, Value: value.NewValueInterface(s.Value)}}
			out = append(out, smd.PathElement{Key: &key})
		case fieldpath.Index:
			i := s.Index
			out = append(out, smd.PathElement{Index: &i})
		}
	}
	return out, true
}
