package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hybridd/hybridd/api"
	"github.com/hybridd/hybridd/budget"
	"github.com/hybridd/hybridd/engine"
	"github.com/hybridd/hybridd/internal/quantity"
	"github.com/hybridd/hybridd/manifest"
)

type planOptions struct {
	socket            string
	format            string
	memoryBudget      string
	containerdAddress string
	namespace         string
}

func newPlanCommand() *cobra.Command {
	var opts planOptions
	cmd := &cobra.Command{
		Use:   "plan FILE...",
		Short: "Explain where each workload would run, without deploying",
		Long: `Print, for each workload of the manifest files, the runtime the selector
chooses and why, the memory admission would reserve, and whether it fits the
budget. With a running daemon (found through --socket or HYBRIDD_SOCKET) the
daemon's facts and budget are used; otherwise this host is read directly, and
the output says so.`,
		Args: argsBetween(1, -1, "manifest file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.format != "table" && opts.format != "json" {
				return fmt.Errorf("invalid output format %q (use table or json)", opts.format)
			}
			resp, err := plan(cmd.Context(), opts, args)
			if err != nil {
				return err
			}
			if opts.format == "json" {
				return writeJSON(cmd.OutOrStdout(), resp)
			}
			return printPlan(cmd.OutOrStdout(), resp, opts)
		},
	}
	socketFlag(cmd, &opts.socket)
	f := cmd.Flags()
	f.StringVarP(&opts.format, "output", "o", "table", "output format: table or json")
	f.StringVar(&opts.memoryBudget, "memory-budget", "", "budget to plan against when no daemon runs (default: as hybridd serve)")
	f.StringVar(&opts.containerdAddress, "containerd-address", "/run/containerd/containerd.sock", "containerd socket to check when no daemon runs")
	f.StringVar(&opts.namespace, "containerd-namespace", "hybridd", "containerd namespace when no daemon runs")
	return cmd
}

func plan(ctx context.Context, opts planOptions, paths []string) (api.PlanResponse, error) {
	files, err := api.ReadFiles(paths)
	if err != nil {
		return api.PlanResponse{}, err
	}
	resp, err := newClient(opts.socket).Plan(ctx, files)
	if err == nil || !errors.Is(err, api.ErrDaemonUnreachable) {
		return resp, err
	}
	return planLocally(ctx, opts, paths)
}

// planLocally reads the host's facts itself when no daemon responds.
func planLocally(ctx context.Context, opts planOptions, paths []string) (api.PlanResponse, error) {
	workloads, err := manifest.ParseFiles(paths...)
	if err != nil {
		return api.PlanResponse{}, err
	}
	capacity, _, err := budget.DefaultCapacity()
	if opts.memoryBudget != "" {
		capacity, err = quantity.ParseBytes(opts.memoryBudget)
	}
	if err != nil {
		return api.PlanResponse{}, err
	}
	acct, err := budget.New(capacity)
	if err != nil {
		return api.PlanResponse{}, err
	}
	var containers *engine.Containers
	if opts.containerdAddress != "" {
		containers = engine.NewContainers(engine.ContainersConfig{Address: opts.containerdAddress, Namespace: opts.namespace})
		defer containers.Close()
	}
	return api.PlanResponse{
		Entries: engine.Plan(ctx, workloads, acct, containers),
		Budget:  api.BudgetSummary{Capacity: capacity, Free: capacity},
	}, nil
}

func printPlan(w io.Writer, resp api.PlanResponse, opts planOptions) error {
	if resp.Daemon {
		fmt.Fprintf(w, "Facts and budget of the daemon at %s.\n", opts.socket)
	} else {
		fmt.Fprintf(w, "No daemon at %s: planned with this host's facts (containerd at %s) and an empty budget.\n",
			opts.socket, orDash(opts.containerdAddress))
	}
	fmt.Fprintf(w, "Budget: %s free of %s.\n", quantity.FormatBytes(resp.Budget.Free), quantity.FormatBytes(resp.Budget.Capacity))
	for _, e := range resp.Entries {
		fmt.Fprintf(w, "\n%s\n", e.Name)
		if e.Error != "" {
			fmt.Fprintf(w, "  runtime:  cannot run\n  error:    %s\n", e.Error)
		} else {
			runtime := orDash(e.Runtime)
			if e.Pending {
				runtime += " (pending)"
			}
			fmt.Fprintf(w, "  runtime:  %s\n  memory:   %s\n  budget:   %s\n", runtime, quantity.FormatBytes(e.Memory), e.Budget)
		}
		fmt.Fprintln(w, "  reasons:")
		for _, r := range e.Reasons {
			fmt.Fprintf(w, "    - %s\n", r)
		}
	}
	return nil
}
