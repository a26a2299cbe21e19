package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/version"
)

func init() {
	register(func() *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print the version of albrollouts",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), version.String())
				return err
			},
		}
	})
}
