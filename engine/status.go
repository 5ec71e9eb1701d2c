package engine

import "time"

// State is the phase of a workload in the reconcile loop.
type State string

const (
	// StateRunning means the workload's runner is ready and subscribed.
	StateRunning State = "running"
	// StatePending means the workload is accepted but its runtime is not
	// available now; the reconcile loop starts it when it becomes available.
	StatePending State = "pending"
	// StateFailed means the last start failed; the loop retries with backoff.
	StateFailed State = "failed"
)

// Change is the effect of a deploy on one workload.
type Change string

const (
	ChangeCreated   Change = "created"
	ChangeReplaced  Change = "replaced"
	ChangeUnchanged Change = "unchanged"
)

// Status is one workload as `hybridd deploy` and `hybridd ps` show it.
type Status struct {
	Name    string   `json:"name"`
	Runtime string   `json:"runtime"`
	Kind    string   `json:"kind,omitempty"`
	State   State    `json:"state"`
	Change  Change   `json:"change,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// Error is the last start or run failure, empty when there is none.
	Error          string    `json:"error,omitempty"`
	MemoryReserved int64     `json:"memoryReserved"`
	MemoryUsed     int64     `json:"memoryUsed"`
	Invocations    uint64    `json:"invocations"`
	Failures       uint64    `json:"failures"`
	Dropped        uint64    `json:"dropped"`
	Since          time.Time `json:"since"`
	// Container is set for container workloads.
	Container *ContainerState `json:"container,omitempty"`
}

// ContainerState is a container's state as containerd's events report it.
type ContainerState struct {
	Running      bool `json:"running"`
	Restarts     int  `json:"restarts"`
	Exits        int  `json:"exits"`
	LastExitCode int  `json:"lastExitCode"`
	OOMKills     int  `json:"oomKills"`
}

// Reason returns the deciding reason, or the error when there is one.
func (s Status) Reason() string {
	if s.Error != "" {
		return s.Error
	}
	if len(s.Reasons) > 0 {
		return s.Reasons[0]
	}
	return ""
}

// PlanEntry is the decision `hybridd plan` prints for one workload.
type PlanEntry struct {
	Name    string   `json:"name"`
	Runtime string   `json:"runtime"`
	Pending bool     `json:"pending,omitempty"`
	Reasons []string `json:"reasons"`
	Memory  int64    `json:"memory"`
	Fits    bool     `json:"fits"`
	// Budget explains the admission result, e.g. the shortfall.
	Budget string `json:"budget"`
	Error  string `json:"error,omitempty"`
}
