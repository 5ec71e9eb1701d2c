package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hybridd/hybridd/api"
	"github.com/hybridd/hybridd/engine"
)

func newDeployCommand() *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:   "deploy FILE...",
		Short: "Deploy the workloads of manifest files",
		Long: `Send manifest files to the daemon. Each workload is created, replaced when
its spec or artifact changed, or left unchanged. The deploy is all or nothing:
when one workload is invalid or does not fit the memory budget, none is applied.`,
		Args: argsBetween(1, -1, "manifest file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := api.ReadFiles(args)
			if err != nil {
				return err
			}
			resp, err := newClient(socket).Apply(cmd.Context(), files)
			if err != nil {
				return err
			}
			return printDeploy(cmd.OutOrStdout(), resp.Workloads)
		},
	}
	socketFlag(cmd, &socket)
	return cmd
}

func printDeploy(w io.Writer, statuses []engine.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tRUNTIME\tSTATUS\tREASON")
	for _, s := range statuses {
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", s.Name, orDash(s.Runtime), s.Change, s.State, s.Reason())
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
