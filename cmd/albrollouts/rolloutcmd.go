package main

// What the rollout commands (list, status, promote, abort, retry, pause,
// restart, undo, set image) share: kubectl's connection flags, the NAME
// argument with its shell completion, and the one-line write commands.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/rolloutctl"
	"github.com/albrollouts/albrollouts/internal/rolloutview"
)

// requestTimeout bounds a command that does not watch.
const requestTimeout = time.Minute

// completionTimeout bounds the API calls of shell completion.
const completionTimeout = 5 * time.Second

// addKubeFlags adds --kubeconfig, --context and -n/--namespace to cmd (and
// its subcommands when persistent) and returns where they are stored.
func addKubeFlags(cmd *cobra.Command, persistent bool) *rolloutctl.KubeOptions {
	o := &rolloutctl.KubeOptions{}
	f := cmd.Flags()
	if persistent {
		f = cmd.PersistentFlags()
	}
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.Context, "context", "", "kubeconfig context to use (default: the current context)")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "namespace (default: the context's namespace, else default)")
	_ = cmd.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return o.Contexts(), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return complete(cmd, o, func(ctx context.Context, cl *rolloutctl.Client) ([]string, error) {
			return cl.Namespaces(ctx, toComplete)
		})
	})
	return o
}

// complete runs a completion query against the cluster; any failure offers nothing.
func complete(cmd *cobra.Command, o *rolloutctl.KubeOptions, q func(context.Context, *rolloutctl.Client) ([]string, error)) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	cl, err := rolloutctl.Connect(*o)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	names, err := q(ctx, cl)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeRolloutName completes the first argument with the names of the
// namespace's rollouts, and nothing after it.
func completeRolloutName(o *rolloutctl.KubeOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return complete(cmd, o, func(ctx context.Context, cl *rolloutctl.Client) ([]string, error) {
			return cl.Names(ctx, toComplete)
		})
	}
}

// oneRollout accepts exactly one argument, the rollout's name.
func oneRollout(cmd *cobra.Command, args []string) error {
	switch len(args) {
	case 0:
		return usageErrorf("%s needs the name of a rollout", cmd.CommandPath())
	case 1:
		return nil
	}
	return usageErrorf("%s takes one rollout name, got %d: %s", cmd.CommandPath(), len(args), strings.Join(args, " "))
}

// noArgs accepts no arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %s", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// connect returns a client for the options.
func connect(o *rolloutctl.KubeOptions) (*rolloutctl.Client, error) { return rolloutctl.Connect(*o) }

// styleFor says how to render to w.
func styleFor(w io.Writer) rolloutview.Style {
	return rolloutview.Style{Color: rolloutview.ColorEnabled(w)}
}

// writeCommand builds a command NAME that connects, runs op and prints the
// line op returns.
func writeCommand(use, short, long string, setup func(*cobra.Command), op func(*rolloutctl.Client, context.Context, string) (string, error)) *cobra.Command {
	var o *rolloutctl.KubeOptions
	cmd := &cobra.Command{
		Use:   use + " NAME",
		Short: short,
		Long:  long,
		Args:  oneRollout,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), requestTimeout)
			defer cancel()
			cl, err := connect(o)
			if err != nil {
				return err
			}
			line, err := op(cl, ctx, args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), line)
			return err
		},
	}
	o = addKubeFlags(cmd, false)
	cmd.ValidArgsFunction = completeRolloutName(o)
	if setup != nil {
		setup(cmd)
	}
	return cmd
}
