// Package fieldpath parses the dotted field paths that tmc policies use in
// `jsonPath` fields.
//
// A path is a sequence of segments:
//
//	spec.replicas                                   plain keys
//	spec.template.spec.containers[0].image          a list index
//	spec.template.spec.containers[name=web].image   a list item selected by one of its fields
//	metadata.labels['workload.kcp.io/projected']    a quoted key (dots and slashes allowed)
//	metadata.labels.workload.kcp.io/projected       after metadata.labels. or metadata.annotations.
//	                                                the whole rest of the path is the key
//
// Parse never panics; its errors carry the byte offset of the problem so a
// caller can draw a caret under it.
//
//	p, err := fieldpath.Parse("spec.template.spec.containers[name=web].image")
//	if err != nil { ... }
//	for _, s := range p.Segments { ... }
package fieldpath
