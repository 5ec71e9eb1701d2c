// Package topic parses MQTT v5 topic filters and output topic templates.
//
// Both may use "{name}" levels. In a trigger filter such as
// "sensors/{device}/telemetry", "{device}" subscribes as "+" and binds the
// level it matches; an output template such as "alerts/{device}/co2" puts
// the bound value back. The package is pure: it parses, matches and expands
// strings and never touches the network.
//
// Rule tags such as [MQTT-4.7.1-1] refer to the normative statements of the
// MQTT Version 5.0 OASIS Standard, section 4.7 (topic names and filters) and
// section 4.8.2 (shared subscriptions).
package topic
