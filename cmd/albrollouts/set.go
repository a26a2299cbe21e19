package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

func init() {
	register(func() *cobra.Command {
		set := &cobra.Command{
			Use:   "set",
			Short: "Change a rollout's spec (set image)",
			Args:  cobra.ArbitraryArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			},
		}
		o := addKubeFlags(set, true)
		image := &cobra.Command{
			Use:   "image NAME CONTAINER=IMAGE...",
			Short: "Set container images of a rollout, which starts an update",
			Long: `image sets the image of each named container (init, regular or ephemeral) of
the rollout's pod template; *=IMAGE sets every container's. It reads the object,
changes the images and writes it back whole, so no field is lost; it prints
"image unchanged" when every container already has its image.`,
			Args: func(cmd *cobra.Command, args []string) error {
				if len(args) < 2 {
					return usageErrorf("%s needs a rollout NAME and at least one CONTAINER=IMAGE", cmd.CommandPath())
				}
				if _, err := rolloutctl.ParseContainerImages(args[1:]); err != nil {
					return usageErrorf("%v", err)
				}
				return nil
			},
			RunE: func(cmd *cobra.Command, args []string) error {
				images, err := rolloutctl.ParseContainerImages(args[1:])
				if err != nil {
					return usageErrorf("%v", err)
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), requestTimeout)
				defer cancel()
				cl, err := connect(o)
				if err != nil {
					return err
				}
				line, err := cl.SetImage(ctx, args[0], images)
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write([]byte(line + "\n"))
				return err
			},
			ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) == 0 {
					return completeRolloutName(o)(cmd, args, toComplete)
				}
				names, dir := complete(cmd, o, func(ctx context.Context, cl *rolloutctl.Client) ([]string, error) {
					ob, err := cl.Get(ctx, args[0])
					if err != nil {
						return nil, err
					}
					var out []string
					for _, c := range ob.Rollout.Spec.Template.Spec.Containers {
						out = append(out, c.Name+"=")
					}
					return out, nil
				})
				return names, dir | cobra.ShellCompDirectiveNoSpace
			},
		}
		set.AddCommand(image)
		return set
	})
}
