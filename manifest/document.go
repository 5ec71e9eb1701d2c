package manifest

import (
	"fmt"
	"regexp"

	"github.com/goccy/go-yaml/ast"
)

// dnsLabel is a DNS-1123 label: lower-case alphanumerics and "-", starting
// and ending with an alphanumeric, at most 63 characters (RFC 1123).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// maxNameLength is the maximum length of a DNS-1123 label.
const maxNameLength = 63

// parsed is a decoded workload with the position of its name, which the
// duplicate-name check reports.
type parsed struct {
	workload Workload
	namePos  Position
	// valid is false when the document had errors. Its name, if valid,
	// still takes part in the duplicate-name check.
	valid bool
}

// document decodes one YAML document into a workload and records its
// errors in d.
func (d *decoder) document(doc *ast.DocumentNode) parsed {
	before := len(d.errs)
	d.anchors = make(map[string]ast.Node)
	collectAnchors(doc.Body, d.anchors)

	root, ok := d.resolve(doc.Body, "")
	if !ok {
		return parsed{}
	}
	if _, isMapping := mappingPairs(root.node); !isMapping {
		d.errorf(root.at, "", "expected a mapping with apiVersion, kind, metadata and spec, got %s", describe(root))
		return parsed{}
	}
	top := d.mapping(root, "", "apiVersion", "kind", "metadata", "spec")
	out := parsed{workload: Workload{Source: d.pos(doc)}}
	d.apiVersion(top)
	if !d.kind(top) {
		return parsed{}
	}
	d.metadata(top, &out)
	d.spec(top, &out.workload.Spec)
	out.valid = len(d.errs) == before
	return out
}

// apiVersion checks that the document's apiVersion is APIVersion.
func (d *decoder) apiVersion(top *fields) {
	v, ok := d.get(top, "apiVersion")
	if !top.has("apiVersion") {
		d.missing(top.node, "", "apiVersion", "add apiVersion: "+APIVersion)
		return
	}
	if !ok {
		return
	}
	s, ok := d.str(v, "apiVersion")
	if ok && s != APIVersion {
		d.errorf(v.at, "apiVersion", "unsupported apiVersion %q (use %s)", s, APIVersion)
	}
}

// kind checks that the document's kind is KindWorkload. It returns false
// when the kind is another one: the rest of such a document is not read,
// because its fields belong to another schema.
func (d *decoder) kind(top *fields) bool {
	v, ok := d.get(top, "kind")
	if !top.has("kind") {
		d.missing(top.node, "", "kind", "add kind: "+KindWorkload)
		return true
	}
	if !ok {
		return true
	}
	s, ok := d.str(v, "kind")
	if ok && s != KindWorkload {
		d.errorf(v.at, "kind", "unsupported kind %q (use %s)", s, KindWorkload)
		return false
	}
	return true
}

// metadata reads metadata.name and metadata.labels.
func (d *decoder) metadata(top *fields, out *parsed) {
	v, _ := d.get(top, "metadata")
	meta := d.mapping(v, "metadata", "name", "labels")
	if meta == nil {
		if !top.has("metadata") || isNull(v) {
			d.missing(top.node, "", "metadata", "add metadata.name, e.g. co2-alert")
		}
		return
	}
	if !meta.has("name") {
		d.missing(meta.node, "metadata", "name", "add a DNS-1123 label, e.g. co2-alert")
	} else if nv, ok := d.get(meta, "name"); ok {
		if name, ok := d.str(nv, "metadata.name"); ok && d.checkName(nv, name) {
			out.workload.Name = name
			out.namePos = d.pos(nv.at)
		}
	}
	if lv, ok := d.get(meta, "labels"); ok {
		out.workload.Labels = d.labels(lv, "metadata.labels")
	}
}

// checkName records an error unless name is a DNS-1123 label.
func (d *decoder) checkName(v value, name string) bool {
	if len(name) <= maxNameLength && dnsLabel.MatchString(name) {
		return true
	}
	reason := "use lower-case letters, digits and \"-\", starting and ending with a letter or digit, e.g. co2-alert"
	if len(name) > maxNameLength {
		reason = fmt.Sprintf("%d characters is longer than the maximum %d", len(name), maxNameLength)
	}
	d.errorf(v.at, "metadata.name", "invalid name %q: not a DNS-1123 label (%s)", name, reason)
	return false
}
