package manifest

import (
	"regexp"
	"strings"
)

// Label syntax of Kubernetes: a name or value is at most 63 characters of
// letters, digits, "-", "_" and ".", starting and ending with a letter or
// digit (a value may also be empty). A key may have a DNS-1123 subdomain
// prefix of at most 253 characters, as in "example.com/site".
var (
	labelName    = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

const (
	maxLabelLength = 63
	maxPrefix      = 253
)

// labels reads metadata.labels, a mapping of label keys to string values.
func (d *decoder) labels(v value, field string) map[string]string {
	f := d.mapping(v, field)
	if f == nil {
		return nil
	}
	out := make(map[string]string, len(f.order))
	for _, key := range f.order {
		keyField := child(field, key)
		if !validLabelKey(key) {
			d.errorf(f.values[key].Key, keyField, "invalid label key %q (use at most 63 letters, digits, \"-\", \"_\" or \".\", starting and ending with a letter or digit, with an optional prefix such as example.com/)", key)
			continue
		}
		lv, ok := d.get(f, key)
		if !ok {
			continue
		}
		s, ok := d.str(lv, keyField)
		if !ok {
			continue
		}
		if s != "" && (len(s) > maxLabelLength || !labelName.MatchString(s)) {
			d.errorf(lv.at, keyField, "invalid label value %q (use at most 63 letters, digits, \"-\", \"_\" or \".\", starting and ending with a letter or digit)", s)
			continue
		}
		out[key] = s
	}
	return out
}

// validLabelKey reports whether key is "[prefix/]name" in Kubernetes syntax.
func validLabelKey(key string) bool {
	name := key
	if prefix, rest, found := strings.Cut(key, "/"); found {
		if len(prefix) > maxPrefix || !dnsSubdomain.MatchString(prefix) {
			return false
		}
		name = rest
	}
	return len(name) <= maxLabelLength && labelName.MatchString(name)
}
