package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
	"github.com/albrollouts/albrollouts/internal/rolloutview"
)

func init() {
	register(func() *cobra.Command {
		var s statusCmd
		cmd := &cobra.Command{
			Use:   "status NAME",
			Short: "Show a rollout in detail: phase, steps, weights, verification, ReplicaSets and pods",
			Long: `status shows the rollout's phase and message, its strategy, images, steps with
the current one marked, the desired weights and whether the ALB is verified to
apply them, the verification of the last traffic shift (per target group: weights
and target health, the unhealthy targets with their reasons), the conditions,
and the ReplicaSets with their pods.

--watch shows it again on every change until the rollout is Healthy or Degraded,
or --timeout passes (--timeout implies --watch). Exit codes: 0 Healthy (or,
without --watch, anything but Degraded), 3 Degraded, 4 still Progressing or
Paused when --timeout passed or the watch was interrupted, 1 on errors.`,
			Args: oneRollout,
			RunE: func(cmd *cobra.Command, args []string) error { return s.run(cmd, args[0]) },
		}
		s.kube = addKubeFlags(cmd, false)
		cmd.ValidArgsFunction = completeRolloutName(s.kube)
		f := cmd.Flags()
		f.BoolVarP(&s.watch, "watch", "w", false, "show the rollout again on every change until it is Healthy or Degraded")
		f.DurationVarP(&s.timeout, "timeout", "t", 0, "stop watching after this long (e.g. 5m); implies --watch; 0 waits forever")
		f.StringVarP(&s.output, "output", "o", "", "print the object as json or yaml instead of the view")
		_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]cobra.Completion{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
		return cmd
	})
}

type statusCmd struct {
	kube    *rolloutctl.KubeOptions
	watch   bool
	timeout time.Duration
	output  string
}

// clearScreen moves the cursor home and clears a terminal.
const clearScreen = "\x1b[H\x1b[2J"

func (s *statusCmd) run(cmd *cobra.Command, name string) error {
	if err := rolloutview.CheckOutput(s.output); err != nil {
		return usageErrorf("%v", err)
	}
	if s.timeout < 0 {
		return usageErrorf("--timeout must not be negative, got %s", s.timeout)
	}
	watch := s.watch || s.timeout > 0
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cl, err := connect(s.kube)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	st := styleFor(out)
	if !watch {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		t, err := cl.Tree(rctx, name)
		if err != nil {
			return err
		}
		if err := s.write(out, t, st, false); err != nil {
			return err
		}
		return phaseResult(t.Rollout, "")
	}

	wctx := ctx
	if s.timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	redraw := st.Color && rolloutview.IsTerminal(out)
	var last *rolloutctl.Tree
	var lastShown []byte
	n := 0
	err = cl.WatchTree(wctx, name, func(t *rolloutctl.Tree) (bool, error) {
		last = t
		var b bytes.Buffer
		if err := s.write(&b, t, st, n > 0); err != nil {
			return false, err
		}
		key := b.Bytes()
		if s.output != rolloutview.OutputText {
			key = []byte(t.Raw.GetResourceVersion())
		}
		if !bytes.Equal(key, lastShown) {
			lastShown = key
			switch {
			case redraw && s.output == rolloutview.OutputText:
				_, err = io.WriteString(out, clearScreen)
			case n > 0 && s.output == rolloutview.OutputText:
				_, err = io.WriteString(out, "\n")
			}
			if err == nil {
				_, err = out.Write(b.Bytes())
			}
			n++
		}
		phase, _ := rolloutctl.Phase(t.Rollout)
		return rolloutctl.Done(phase), err
	})
	if err != nil && (wctx.Err() == nil || last == nil) {
		if errors.Is(err, context.DeadlineExceeded) && last == nil {
			return fmt.Errorf("rollout %q could not be read within --timeout %s", name, s.timeout)
		}
		return err
	}
	why := "" // the rollout became Healthy or Degraded
	switch {
	case ctx.Err() != nil:
		why = "the watch was interrupted"
	case wctx.Err() != nil:
		why = "--timeout " + s.timeout.String() + " passed"
	}
	return phaseResult(last.Rollout, why)
}

// write renders t once.
func (s *statusCmd) write(w io.Writer, t *rolloutctl.Tree, st rolloutview.Style, again bool) error {
	if s.output != rolloutview.OutputText {
		return rolloutview.Object(w, s.output, t.Raw.Object, again)
	}
	return rolloutview.Status(w, t, time.Now(), st)
}

// phaseResult turns the final phase into the exit code: Degraded is 3; when
// a watch stopped early (why says how), anything but Healthy is 4.
func phaseResult(r *v1alpha1.Rollout, why string) error {
	phase, msg := rolloutctl.Phase(r)
	if msg != "" {
		msg = ": " + msg
	}
	switch {
	case phase == v1alpha1.RolloutPhaseDegraded:
		return &exitError{code: exitDegraded, err: fmt.Errorf("rollout %q is Degraded%s", r.Name, msg)}
	case why != "" && phase != v1alpha1.RolloutPhaseHealthy:
		return &exitError{code: exitNotDone, err: fmt.Errorf("rollout %q is still %s%s (%s)", r.Name, orUnknown(string(phase)), msg, why)}
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "without a phase"
	}
	return s
}
