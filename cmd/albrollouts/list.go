package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albrollouts/albrollouts/internal/rolloutview"
)

func init() {
	register(func() *cobra.Command {
		var all bool
		var output string
		cmd := &cobra.Command{
			Use:     "list",
			Aliases: []string{"ls"},
			Short:   "List the rollouts of a namespace (or all) with their phase, step, weight and verification",
			Args:    noArgs,
		}
		o := addKubeFlags(cmd, false)
		cmd.RunE = func(cmd *cobra.Command, _ []string) error {
			if err := rolloutview.CheckOutput(output); err != nil {
				return usageErrorf("%v", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), requestTimeout)
			defer cancel()
			cl, err := connect(o)
			if err != nil {
				return err
			}
			items, err := cl.List(ctx, all)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output != rolloutview.OutputText {
				raws := make([]*unstructured.Unstructured, len(items))
				for i := range items {
					raws[i] = items[i].Raw
				}
				return rolloutview.Objects(out, output, raws)
			}
			if len(items) == 0 {
				where := fmt.Sprintf("in namespace %q", cl.Namespace())
				if all {
					where = "in any namespace"
				}
				_, err := fmt.Fprintf(cmd.ErrOrStderr(), "No rollouts found %s.\n", where)
				return err
			}
			return rolloutview.List(out, items, all, time.Now(), styleFor(out))
		}
		f := cmd.Flags()
		f.BoolVarP(&all, "all-namespaces", "A", false, "list the rollouts of every namespace")
		f.StringVarP(&output, "output", "o", "", "print the objects as json or yaml instead of a table")
		_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]cobra.Completion{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
		return cmd
	})
}
