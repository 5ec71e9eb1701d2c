// Package api is the control interface between the hybridd CLI and the
// daemon: JSON over HTTP on a unix socket. The server side adapts HTTP to the
// engine; the client side is what the CLI commands call.
package api

import "github.com/hybridd/hybridd/engine"

// File is one manifest file sent by the CLI. Path is absolute, so relative
// paths inside the manifest resolve against the CLI's working directory.
type File struct {
	Path    string `json:"path"`
	Content []byte `json:"content"`
}

// ApplyRequest carries the manifest files of `hybridd deploy` or `hybridd plan`.
type ApplyRequest struct {
	Files []File `json:"files"`
}

// ApplyResponse lists what a deploy did to each workload.
type ApplyResponse struct {
	Workloads []engine.Status `json:"workloads"`
}

// PlanResponse lists what a deploy would decide.
type PlanResponse struct {
	Daemon  bool               `json:"daemon"`
	Entries []engine.PlanEntry `json:"entries"`
	Budget  BudgetSummary      `json:"budget"`
}

// BudgetSummary is the memory budget in bytes.
type BudgetSummary struct {
	Capacity int64 `json:"capacity"`
	Reserved int64 `json:"reserved"`
	Free     int64 `json:"free"`
}

// ListResponse lists the deployed workloads.
type ListResponse struct {
	Workloads []engine.Status `json:"workloads"`
}

// RemoveRequest names the workloads to remove.
type RemoveRequest struct {
	Names []string `json:"names"`
}

// ErrorResponse is the body of every non-2xx response.
type ErrorResponse struct {
	Error string `json:"error"`
}

// VersionResponse identifies the daemon.
type VersionResponse struct {
	Version string `json:"version"`
}
