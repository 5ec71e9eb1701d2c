package topic

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTemplateValid(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		names []string
	}{
		{"literal", "alerts/co2", nil},
		{"one name", "alerts/{device}/co2", []string{"device"}},
		{"repeated name", "{site}/x/{site}/{device}", []string{"site", "device"}},
		{"empty levels", "/a//b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.in, tmpl.String())
			if tt.names == nil {
				assert.Empty(t, tmpl.Names())
			} else {
				assert.Equal(t, tt.names, tmpl.Names())
			}
		})
	}
}

func TestParseTemplateInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `invalid output topic "": must not be empty`},
		{"plus", "alerts/+/co2", `invalid output topic "alerts/+/co2": output topics cannot contain wildcards "+" or "#" (use a {name} level bound by the trigger filter)`},
		{"hash", "alerts/#", `invalid output topic "alerts/#": output topics cannot contain wildcards "+" or "#" (use a {name} level bound by the trigger filter)`},
		{"plus inside level", "alerts/a+b", `invalid output topic "alerts/a+b": output topics cannot contain wildcards "+" or "#" (use a {name} level bound by the trigger filter)`},
		{"null", "a\x00", `invalid output topic "a\x00": contains the null character U+0000`},
		{"bad utf8", "a/\xff", `invalid output topic "a/\xff": not valid UTF-8`},
		{"too long", strings.Repeat("c", MaxLength+1), `invalid output topic "` + strings.Repeat("c", 64) + `"...: 65536 bytes is longer than the maximum 65535`},
		{"mixed braces", "alerts/dev-{device}", `invalid output topic "alerts/dev-{device}": level "dev-{device}" mixes text and braces (a {name} must fill a whole level, as in sensors/{device}/telemetry)`},
		{"bad name", "alerts/{Dev}", `invalid output topic "alerts/{Dev}": invalid name "Dev" in {Dev} (use lower-case letters, digits and "_", starting with a letter or "_")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.in)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, tmpl)
		})
	}
}

func TestTemplateExpand(t *testing.T) {
	tests := []struct {
		name     string
		template string
		bindings Bindings
		want     string
		wantErr  string
	}{
		{"literal", "alerts/co2", nil, "alerts/co2", ""},
		{"one name", "alerts/{device}/co2", Bindings{"device": "office-1"}, "alerts/office-1/co2", ""},
		{"extra bindings ignored", "alerts/{device}", Bindings{"device": "d", "site": "s"}, "alerts/d", ""},
		{"repeated name", "{a}/x/{a}", Bindings{"a": "v"}, "v/x/v", ""},
		{"unicode value", "t/{d}", Bindings{"d": "küche"}, "t/küche", ""},
		{"unbound", "alerts/{device}/co2", Bindings{"site": "s"}, "", `expand output topic "alerts/{device}/co2": {device} is not bound (the trigger filter must contain a {device} level)`},
		{"nil bindings", "alerts/{device}", nil, "", `expand output topic "alerts/{device}": {device} is not bound (the trigger filter must contain a {device} level)`},
		{"empty value", "alerts/{device}", Bindings{"device": ""}, "", `expand output topic "alerts/{device}": {device} is bound to "", which is not one non-empty topic level`},
		{"value with slash", "alerts/{device}", Bindings{"device": "a/b"}, "", `expand output topic "alerts/{device}": {device} is bound to "a/b", which is not one non-empty topic level`},
		{"value with plus", "alerts/{device}", Bindings{"device": "+"}, "", `expand output topic "alerts/{device}": {device} is bound to "+", which is not one non-empty topic level`},
		{"value with null", "alerts/{device}", Bindings{"device": "a\x00"}, "", `expand output topic "alerts/{device}": {device} is bound to "a\x00", which is not one non-empty topic level`},
		{"too long", "a/{x}", Bindings{"x": strings.Repeat("x", MaxLength)}, "", `expand output topic "a/{x}": result is 65537 bytes, longer than the maximum 65535`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.template)
			require.NoError(t, err)
			got, err := tmpl.Expand(tt.bindings)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTemplateAllows(t *testing.T) {
	tests := []struct {
		name     string
		template string
		topic    string
		want     bool
	}{
		{"literal equal", "alerts/co2", "alerts/co2", true},
		{"literal differs", "alerts/co2", "alerts/co3", false},
		{"name any level", "alerts/{device}/co2", "alerts/office-1/co2", true},
		{"name empty level", "alerts/{device}/co2", "alerts//co2", false},
		{"too few levels", "alerts/{device}/co2", "alerts/office-1", false},
		{"too many levels", "alerts/{device}", "alerts/a/b", false},
		{"repeated name same value", "{a}/x/{a}", "v/x/v", true},
		{"repeated name other value", "{a}/x/{a}", "v/x/w", false},
		{"wildcard topic", "alerts/{device}", "alerts/+", false},
		{"literal empty level", "a//b", "a//b", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.template)
			require.NoError(t, err)
			assert.Equal(t, tt.want, tmpl.Allows(tt.topic))
		})
	}
}

func TestTemplateExpandMatchRoundTrip(t *testing.T) {
	f, err := ParseFilter("sensors/{site}/{device}/telemetry")
	require.NoError(t, err)
	tmpl, err := ParseTemplate("alerts/{device}/{site}")
	require.NoError(t, err)

	bindings, ok := f.Match("sensors/lab/office-1/telemetry")
	require.True(t, ok)
	got, err := tmpl.Expand(bindings)
	require.NoError(t, err)
	assert.Equal(t, "alerts/office-1/lab", got)
	assert.True(t, tmpl.Allows(got))
}
