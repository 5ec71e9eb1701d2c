package manifest

import (
	"slices"

	"github.com/hybridd/hybridd/bus/topic"
)

// trigger reads spec.trigger.mqtt. It returns the parsed filters, which the
// output topic check needs, and ok=false when any filter was invalid.
func (d *decoder) trigger(f *fields, out *Trigger) ([]*topic.Filter, bool) {
	v, ok := d.get(f, "trigger")
	if !ok {
		return nil, true
	}
	trig := d.mapping(v, "spec.trigger", "mqtt")
	if trig == nil {
		return nil, false
	}
	mv, _ := d.get(trig, "mqtt")
	if isNull(mv) {
		d.missing(trig.node, "spec.trigger", "mqtt", "add mqtt.topic, e.g. sensors/+/telemetry")
		return nil, false
	}
	mqtt := d.mapping(mv, "spec.trigger.mqtt", "topic", "topics", "qos")
	if mqtt == nil {
		return nil, false
	}
	texts, filters, ok := d.filters(mqtt)
	out.MQTT = &MQTTTrigger{Topics: texts, QoS: DefaultQoS}
	if qv, present := d.get(mqtt, "qos"); present && !isNull(qv) {
		if qos, valid := d.integer(qv, "spec.trigger.mqtt.qos", 0, 2); valid {
			out.MQTT.QoS = byte(qos)
		}
	}
	return filters, ok
}

// filters reads topic or topics, exactly one of which must be set, and
// parses each filter.
func (d *decoder) filters(mqtt *fields) ([]string, []*topic.Filter, bool) {
	const field = "spec.trigger.mqtt"
	hasOne, hasMany := mqtt.has("topic"), mqtt.has("topics")

	switch {
	case hasOne && hasMany:
		d.errorf(mqtt.values["topics"].Key, child(field, "topics"), "set either topic or topics, not both")
		return nil, nil, false
	case !hasOne && !hasMany:
		d.missing(mqtt.node, field, "topic", "set topic, or topics for several filters, e.g. topic: sensors/+/telemetry")
		return nil, nil, false
	case hasOne:
		v, ok := d.get(mqtt, "topic")
		if !ok {
			return nil, nil, false
		}
		return d.filterList([]value{v}, []string{child(field, "topic")})
	}

	v, ok := d.get(mqtt, "topics")
	if !ok {
		return nil, nil, false
	}
	topicsField := child(field, "topics")
	items, ok := d.list(v, topicsField)
	if !ok {
		return nil, nil, false
	}
	if len(items) == 0 {
		d.errorf(v.at, topicsField, "must not be empty (list at least one topic filter)")
		return nil, nil, false
	}

	values := make([]value, 0, len(items))
	fieldNames := make([]string, 0, len(items))
	for i, item := range items {
		iv, ok := d.resolve(item, index(topicsField, i))
		if !ok {
			return nil, nil, false
		}
		values = append(values, iv)
		fieldNames = append(fieldNames, index(topicsField, i))
	}
	return d.filterList(values, fieldNames)
}

// filterList parses each value as a topic filter. Filters listed twice are
// errors.
func (d *decoder) filterList(values []value, fieldNames []string) ([]string, []*topic.Filter, bool) {
	texts := make([]string, 0, len(values))
	filters := make([]*topic.Filter, 0, len(values))
	ok := true
	for i, v := range values {
		s, valid := d.str(v, fieldNames[i])
		if !valid {
			ok = false
			continue
		}
		filter, err := topic.ParseFilter(s)
		if err != nil {
			d.errorf(v.at, fieldNames[i], "%v", err)
			ok = false
			continue
		}
		if slices.Contains(texts, s) {
			d.errorf(v.at, fieldNames[i], "topic filter %q is listed twice (remove one)", s)
			ok = false
			continue
		}
		texts = append(texts, s)
		filters = append(filters, filter)
	}
	return texts, filters, ok
}

// output reads spec.output.topic and checks that every {name} it uses is
// bound by every trigger filter.
func (d *decoder) output(f *fields, filters []*topic.Filter, filtersOK bool, out *Output) {
	const field = "spec.output.topic"
	v, ok := d.get(f, "output")
	if !ok {
		return
	}
	section := d.mapping(v, "spec.output", "topic")
	tv, ok := d.get(section, "topic")
	if !ok || isNull(tv) {
		return
	}
	s, ok := d.str(tv, field)
	if !ok {
		return
	}
	tmpl, err := topic.ParseTemplate(s)
	if err != nil {
		d.errorf(tv.at, field, "%v", err)
		return
	}
	out.Topic = s

	if !filtersOK {
		return // the filters already have errors; checking names against them would mislead
	}
	for _, name := range tmpl.Names() {
		if len(filters) == 0 {
			d.errorf(tv.at, field, "{%s} is not bound because the workload has no trigger (add a trigger filter with a {%s} level, or remove {%s})", name, name, name)
			continue
		}
		for _, filter := range filters {
			if !slices.Contains(filter.Names(), name) {
				d.errorf(tv.at, field, "{%s} is not bound by trigger filter %q (add a {%s} level to that filter, or remove {%s} from the output topic)", name, filter, name, name)
			}
		}
	}
}
