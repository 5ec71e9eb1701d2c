package topic

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFilterValid(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		subscription string
		group        string
		names        []string
	}{
		{"literal", "sensors/office-1/telemetry", "sensors/office-1/telemetry", "", nil},
		{"single level", "sensors/+/telemetry", "sensors/+/telemetry", "", nil},
		{"multi level", "sensors/#", "sensors/#", "", nil},
		{"hash alone", "#", "#", "", nil},
		{"plus alone", "+", "+", "", nil},
		{"name", "sensors/{device}/telemetry", "sensors/+/telemetry", "", []string{"device"}},
		{"two names", "{site}/{device}/#", "+/+/#", "", []string{"site", "device"}},
		{"name with digits", "a/{_x9}", "a/+", "", []string{"_x9"}},
		{"empty levels", "/a//b/", "/a//b/", "", nil},
		{"leading slash", "/", "/", "", nil},
		{"dollar topic", "$SYS/broker/#", "$SYS/broker/#", "", nil},
		{"shared", "$share/loggers/sensors/{device}/telemetry", "$share/loggers/sensors/+/telemetry", "loggers", []string{"device"}},
		{"shared hash", "$share/g/#", "$share/g/#", "g", nil},
		{"share without slash is literal", "$share", "$share", "", nil},
		{"unicode", "capteurs/température", "capteurs/température", "", nil},
		{"max length", strings.Repeat("a", MaxLength), strings.Repeat("a", MaxLength), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.in, f.String())
			assert.Equal(t, tt.subscription, f.Subscription())
			assert.Equal(t, tt.group, f.Group())
			if tt.names == nil {
				assert.Empty(t, f.Names())
			} else {
				assert.Equal(t, tt.names, f.Names())
			}
		})
	}
}

func TestParseFilterInvalid(t *testing.T) {
	long := strings.Repeat("a", MaxLength+1)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `invalid topic filter "": must not be empty`},
		{"too long", long, `invalid topic filter "` + strings.Repeat("a", 64) + `"...: 65536 bytes is longer than the maximum 65535`},
		{"null", "a/\x00", `invalid topic filter "a/\x00": contains the null character U+0000`},
		{"bad utf8", "a/\xff", `invalid topic filter "a/\xff": not valid UTF-8`},
		{"surrogate", "a/\xed\xa0\x80", `invalid topic filter "a/\xed\xa0\x80": not valid UTF-8`},
		{"hash not last", "a/#/b", `invalid topic filter "a/#/b": "#" must be the last level, as in sensors/#`},
		{"hash in level", "a/b#", `invalid topic filter "a/b#": level "b#": "#" must fill a whole level, as in sensors/#`},
		{"hash in last level", "a/#b", `invalid topic filter "a/#b": level "#b": "#" must fill a whole level, as in sensors/#`},
		{"plus in level", "a/b+/c", `invalid topic filter "a/b+/c": level "b+": "+" must fill a whole level, as in sensors/+/telemetry`},
		{"braces mixed with text", "sensors/dev-{id}", `invalid topic filter "sensors/dev-{id}": level "dev-{id}" mixes text and braces (a {name} must fill a whole level, as in sensors/{device}/telemetry)`},
		{"unclosed brace", "sensors/{id", `invalid topic filter "sensors/{id": level "{id" mixes text and braces (a {name} must fill a whole level, as in sensors/{device}/telemetry)`},
		{"two names in a level", "{a}{b}", `invalid topic filter "{a}{b}": level "{a}{b}" mixes text and braces (a {name} must fill a whole level, as in sensors/{device}/telemetry)`},
		{"empty name", "a/{}", `invalid topic filter "a/{}": invalid name "" in {} (use lower-case letters, digits and "_", starting with a letter or "_")`},
		{"upper-case name", "a/{Device}", `invalid topic filter "a/{Device}": invalid name "Device" in {Device} (use lower-case letters, digits and "_", starting with a letter or "_")`},
		{"name starts with digit", "a/{9x}", `invalid topic filter "a/{9x}": invalid name "9x" in {9x} (use lower-case letters, digits and "_", starting with a letter or "_")`},
		{"name with dash", "a/{my-dev}", `invalid topic filter "a/{my-dev}": invalid name "my-dev" in {my-dev} (use lower-case letters, digits and "_", starting with a letter or "_")`},
		{"duplicate name", "a/{x}/b/{x}", `invalid topic filter "a/{x}/b/{x}": {x} appears twice (give each level its own name)`},
		{"share without group", "$share//a", `invalid topic filter "$share//a": shared subscription needs a group name, as in $share/group/sensors/#`},
		{"share prefix only", "$share/", `invalid topic filter "$share/": shared subscription needs a group name, as in $share/group/sensors/#`},
		{"share without filter", "$share/g", `invalid topic filter "$share/g": shared subscription needs a topic filter after the group, as in $share/g/sensors/#`},
		{"share with empty filter", "$share/g/", `invalid topic filter "$share/g/": shared subscription needs a topic filter after the group, as in $share/g/sensors/#`},
		{"share group with plus", "$share/g+/a", `invalid topic filter "$share/g+/a": share group "g+" must not contain "+" or "#"`},
		{"share group with hash", "$share/#/a", `invalid topic filter "$share/#/a": share group "#" must not contain "+" or "#"`},
		{"share inner filter checked", "$share/g/a/#/b", `invalid topic filter "$share/g/a/#/b": "#" must be the last level, as in sensors/#`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.in)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, f)
		})
	}
}

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		topic  string
		want   Bindings // nil: no match
	}{
		{"literal equal", "a/b", "a/b", Bindings{}},
		{"literal differs", "a/b", "a/c", nil},
		{"case sensitive", "a/b", "A/b", nil},
		{"topic longer", "a/b", "a/b/c", nil},
		{"topic shorter", "a/b/c", "a/b", nil},
		{"plus", "sensors/+/telemetry", "sensors/office-1/telemetry", Bindings{}},
		{"plus needs a level", "sensors/+", "sensors", nil},
		{"plus matches empty level", "sensors/+", "sensors/", Bindings{}},
		{"plus one level only", "sensors/+", "sensors/a/b", nil},
		{"name binds", "sensors/{device}/telemetry", "sensors/office-1/telemetry", Bindings{"device": "office-1"}},
		{"name binds empty level", "sensors/{device}/telemetry", "sensors//telemetry", Bindings{"device": ""}},
		{"two names", "{site}/{device}/#", "lab/dev-2/x/y", Bindings{"site": "lab", "device": "dev-2"}},
		{"hash children", "sensors/#", "sensors/a/b/c", Bindings{}},
		{"hash parent", "sensors/#", "sensors", Bindings{}},
		{"hash empty child", "sensors/#", "sensors/", Bindings{}},
		{"hash other parent", "sensors/#", "sensorsx", nil},
		{"hash alone", "#", "a/b", Bindings{}},
		{"hash alone single level", "#", "a", Bindings{}},
		{"hash after name", "sensors/{device}/#", "sensors/d1", Bindings{"device": "d1"}},
		{"leading empty level", "/+", "/finance", Bindings{}},
		{"plus plus", "+/+", "/finance", Bindings{}},
		{"hash skips dollar", "#", "$SYS/uptime", nil},
		{"plus skips dollar", "+/uptime", "$SYS/uptime", nil},
		{"name skips dollar", "{x}/uptime", "$SYS/uptime", nil},
		{"literal dollar matches", "$SYS/#", "$SYS/uptime", Bindings{}},
		{"dollar later level", "a/+", "a/$b", Bindings{}},
		{"shared prefix ignored", "$share/g/sensors/{device}", "sensors/d1", Bindings{"device": "d1"}},
		{"shared prefix not a topic", "$share/g/sensors/#", "$share/g/sensors/x", nil},
		{"empty topic", "#", "", nil},
		{"wildcard topic", "a/+", "a/+", nil},
		{"hash topic", "#", "#", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.filter)
			require.NoError(t, err)
			got, ok := f.Match(tt.topic)
			if tt.want == nil {
				assert.False(t, ok)
				assert.Nil(t, got)
				return
			}
			assert.True(t, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFilterNamesCopy(t *testing.T) {
	f, err := ParseFilter("a/{x}")
	require.NoError(t, err)
	names := f.Names()
	names[0] = "changed"
	assert.Equal(t, []string{"x"}, f.Names())
}

func TestValidTopicName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // empty: valid
	}{
		{"simple", "alerts/office-1/co2", ""},
		{"braces are literal", "a/{x}", ""},
		{"dollar", "$SYS/x", ""},
		{"slash only", "/", ""},
		{"max length", strings.Repeat("b", MaxLength), ""},
		{"empty", "", `invalid topic "": must not be empty`},
		{"plus", "a/+", `invalid topic "a/+": topic names cannot contain wildcards "+" or "#" (publish to a concrete topic)`},
		{"hash inside level", "a/b#", `invalid topic "a/b#": topic names cannot contain wildcards "+" or "#" (publish to a concrete topic)`},
		{"null", "a\x00", `invalid topic "a\x00": contains the null character U+0000`},
		{"bad utf8", "\xc3", `invalid topic "\xc3": not valid UTF-8`},
		{"too long", strings.Repeat("b", MaxLength+1), `invalid topic "` + strings.Repeat("b", 64) + `"...: 65536 bytes is longer than the maximum 65535`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidTopicName(tt.in)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestQuoteCutsAtRuneStart(t *testing.T) {
	// 63 ASCII bytes, then "é" (2 bytes) straddling the 64-byte limit.
	s := strings.Repeat("a", 63) + "é" + strings.Repeat("a", 10)
	assert.Equal(t, `"`+strings.Repeat("a", 63)+`"...`, quote(s))
}
