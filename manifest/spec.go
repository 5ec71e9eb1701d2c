package manifest

import (
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/hybridd/hybridd/internal/quantity"
)

// Defaults and limits of a workload spec.
const (
	DefaultMemory      = 32 << 20
	MinMemory          = 64 << 10
	MaxMemory          = 4 << 30 // a wasm32 module addresses at most 4 GiB
	DefaultTimeout     = 5 * time.Second
	MaxTimeout         = time.Hour
	DefaultConcurrency = 1
	MaxConcurrency     = 1024
	DefaultQoS         = 1
)

// reservedEnvPrefix starts the environment variables that hybridd sets for
// a workload, such as HYBRIDD_TOPIC.
const reservedEnvPrefix = "HYBRIDD_"

// envName is the syntax of an environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// specKeys are the fields of spec.
var specKeys = []string{"runtime", "wasm", "container", "trigger", "output", "env", "resources", "timeout", "concurrency"}

// spec reads the spec of a workload, applies defaults and checks the rules
// that span several fields.
func (d *decoder) spec(top *fields, out *Spec) {
	v, _ := d.get(top, "spec")
	f := d.mapping(v, "spec", specKeys...)
	if f == nil {
		if !top.has("spec") || isNull(v) {
			d.missing(top.node, "", "spec", "add spec.wasm or spec.container")
		}
		return
	}
	out.Runtime = d.runtime(f)
	out.Wasm = d.wasm(f)
	out.Container = d.container(f)
	filters, filtersOK := d.trigger(f, &out.Trigger)
	d.output(f, filters, filtersOK, &out.Output)
	out.Env = d.env(f)
	out.Resources = d.resources(f)
	out.Timeout = d.timeout(f)
	out.Concurrency = d.concurrency(f)
	d.checkSections(f, out)
}

// enum reads a string field that must be one of allowed, or returns def
// when the field is absent.
func (d *decoder) enum(f *fields, key, def string, allowed ...string) string {
	v, ok := d.get(f, key)
	if !ok || isNull(v) {
		return def
	}
	field := child(f.field, key)
	s, ok := d.str(v, field)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	d.errorf(v.at, field, "invalid %s %q (use %s)", key, s, orList(allowed))
	return def
}

// orList writes items as "a, b or c".
func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func (d *decoder) runtime(f *fields) Runtime {
	return Runtime(d.enum(f, "runtime", string(RuntimeAuto),
		string(RuntimeAuto), string(RuntimeWasm), string(RuntimeContainer)))
}

// env reads spec.env, a mapping of variable names to string values.
func (d *decoder) env(f *fields) map[string]string {
	v, ok := d.get(f, "env")
	if !ok {
		return nil
	}
	vars := d.mapping(v, "spec.env")
	if vars == nil || len(vars.order) == 0 {
		return nil
	}
	out := make(map[string]string, len(vars.order))
	for _, name := range vars.order {
		field := child("spec.env", name)
		keyNode := vars.values[name].Key
		if !envName.MatchString(name) {
			d.errorf(keyNode, field, "invalid variable name %q (use letters, digits and \"_\", not starting with a digit)", name)
			continue
		}
		if strings.HasPrefix(name, reservedEnvPrefix) {
			d.errorf(keyNode, field, "variable names starting with %s are reserved for hybridd (rename %s)", reservedEnvPrefix, name)
			continue
		}
		ev, ok := d.get(vars, name)
		if !ok {
			continue
		}
		if s, ok := d.str(ev, field); ok {
			out[name] = s
		}
	}
	return out
}

// quantityText reads a field that holds a quantity, written as a string
// ("64Mi") or a plain number (1048576, 0.5).
func (d *decoder) quantityText(v value, field string) (string, bool) {
	switch v.node.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode:
		text, _ := scalarText(v)
		return text, true
	}
	d.errorf(v.at, field, "expected a quantity such as 64Mi, got %s", describe(v))
	return "", false
}

// resources reads spec.resources and applies the default memory limit.
func (d *decoder) resources(f *fields) Resources {
	out := Resources{Memory: DefaultMemory}
	v, ok := d.get(f, "resources")
	if !ok {
		return out
	}
	res := d.mapping(v, "spec.resources", "memory", "cpu")
	if mv, ok := d.get(res, "memory"); ok {
		out.Memory = d.memory(mv)
	}
	if cv, ok := d.get(res, "cpu"); ok {
		out.CPU = d.cpu(cv)
	}
	return out
}

// memory reads spec.resources.memory and checks its range.
func (d *decoder) memory(v value) int64 {
	const field = "spec.resources.memory"
	text, ok := d.quantityText(v, field)
	if !ok {
		return DefaultMemory
	}
	n, err := quantity.ParseBytes(text)
	switch {
	case err != nil:
		d.errorf(v.at, field, "%v", err)
	case n < MinMemory:
		d.errorf(v.at, field, "%s is below the minimum %s", text, quantity.FormatQuantity(MinMemory))
	case n > MaxMemory:
		d.errorf(v.at, field, "%s is above the maximum %s (a wasm32 module addresses at most 4 GiB)", text, quantity.FormatQuantity(MaxMemory))
	default:
		return n
	}
	return DefaultMemory
}

// cpu reads spec.resources.cpu in millicores.
func (d *decoder) cpu(v value) int64 {
	const field = "spec.resources.cpu"
	text, ok := d.quantityText(v, field)
	if !ok {
		return 0
	}
	n, err := quantity.ParseMillis(text)
	switch {
	case err != nil:
		d.errorf(v.at, field, "%v", err)
	case n == 0:
		d.errorf(v.at, field, "must be greater than 0 (remove cpu for no limit)")
	default:
		return n
	}
	return 0
}

// timeout reads spec.timeout, a Go duration.
func (d *decoder) timeout(f *fields) time.Duration {
	const field = "spec.timeout"
	v, ok := d.get(f, "timeout")
	if !ok || isNull(v) {
		return DefaultTimeout
	}
	text, ok := scalarText(v)
	if !ok {
		d.errorf(v.at, field, "expected a duration such as 250ms, got %s", describe(v))
		return DefaultTimeout
	}
	dur, err := time.ParseDuration(text)
	switch {
	case err != nil && isNumber(text):
		d.errorf(v.at, field, "invalid duration %s (add a unit, e.g. %ss)", text, text)
	case err != nil:
		d.errorf(v.at, field, "invalid duration %q (use Go notation, e.g. 250ms, 5s or 1m)", text)
	case dur <= 0:
		d.errorf(v.at, field, "%s must be greater than 0", text)
	case dur > MaxTimeout:
		d.errorf(v.at, field, "%s is above the maximum 1h", text)
	default:
		return dur
	}
	return DefaultTimeout
}

// isNumber reports whether s is a plain decimal number such as "5" or "0.5".
func isNumber(s string) bool {
	return strings.ContainsAny(s, "0123456789") && strings.Trim(s, "0123456789.") == ""
}

func (d *decoder) concurrency(f *fields) int {
	v, ok := d.get(f, "concurrency")
	if !ok || isNull(v) {
		return DefaultConcurrency
	}
	n, ok := d.integer(v, "spec.concurrency", 1, MaxConcurrency)
	if !ok {
		return DefaultConcurrency
	}
	return int(n)
}
