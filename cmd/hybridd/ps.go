package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hybridd/hybridd/engine"
	"github.com/hybridd/hybridd/internal/quantity"
)

func newPsCommand() *cobra.Command {
	var socket, format string
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List the deployed workloads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("invalid output format %q (use table or json)", format)
			}
			resp, err := newClient(socket).List(cmd.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), resp.Workloads)
			}
			return printPs(cmd.OutOrStdout(), resp.Workloads)
		},
	}
	socketFlag(cmd, &socket)
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	return cmd
}

func printPs(w io.Writer, statuses []engine.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tRUNTIME\tKIND\tSTATE\tMEMORY (USED/RESERVED)\tINVOCATIONS\tFAILED\tDROPPED\tREASON")
	for _, s := range statuses {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s / %s\t%d\t%d\t%d\t%s\n",
			s.Name, orDash(s.Runtime), orDash(s.Kind), s.State,
			quantity.FormatBytes(s.MemoryUsed), quantity.FormatBytes(s.MemoryReserved),
			s.Invocations, s.Failures, s.Dropped, s.Reason())
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
