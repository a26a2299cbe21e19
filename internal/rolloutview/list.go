package rolloutview

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

// List writes the table of `albrollouts list`: one rollout per row with its
// strategy, phase, step, set weight, verification, ready/desired replicas and
// age, and a NAMESPACE column first when allNamespaces.
func List(w io.Writer, items []rolloutctl.Object, allNamespaces bool, now time.Time, st Style) error {
	t := &table{}
	head := []cell{c("NAME"), c("STRATEGY"), c("STATUS"), c("STEP"), c("SET-WEIGHT"), c("VERIFIED"), c("READY"), c("AGE")}
	if allNamespaces {
		head = append([]cell{c("NAMESPACE")}, head...)
	}
	t.row(head...)
	for _, o := range items {
		r := o.Rollout
		phase, _ := rolloutctl.Phase(r)
		row := []cell{
			c(r.Name),
			c(orDash(string(r.StrategyName()))),
			word(string(phase)),
			c(stepText(r)),
			c(setWeightText(r)),
			verifiedCell(r),
			c(fmt.Sprintf("%d/%d", r.Status.ReadyReplicas, rolloutctl.DesiredReplicas(r))),
			c(age(r.CreationTimestamp, now)),
		}
		if allNamespaces {
			row = append([]cell{c(r.Namespace)}, row...)
		}
		t.row(row...)
	}
	var b strings.Builder
	t.write(&b, "", st)
	_, err := io.WriteString(w, b.String())
	return err
}

// stepText is "index/steps" for a canary with steps, else "-".
func stepText(r *v1alpha1.Rollout) string {
	i, n, ok := rolloutctl.StepIndex(r)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%d/%d", i, n)
}

// setWeightText is the canary weight the controller wrote
// (status.canary.weights), else the one the steps ask for; "-" for blue-green.
func setWeightText(r *v1alpha1.Rollout) string {
	if w := r.Status.Canary.Weights; w != nil {
		return strconv.Itoa(int(w.Canary.Weight))
	}
	if w, ok := rolloutctl.SetWeight(r); ok {
		return strconv.Itoa(int(w))
	}
	return "-"
}

// verifiedCell is the verification phase, else weights.verified as yes/no,
// else "-" (verification off or nothing shifted yet).
func verifiedCell(r *v1alpha1.Rollout) cell {
	if v := r.Status.Verification; v != nil && v.Phase != "" {
		return word(string(v.Phase))
	}
	if w := r.Status.Canary.Weights; w != nil && w.Verified != nil {
		return word(yesNo(*w.Verified))
	}
	return c("-")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age is the time since t in kubectl's short form (5m, 2d3h), "-" when unset.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// ago is age with "ago", for times inside a sentence.
func ago(t *metav1.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	return age(*t, now) + " ago"
}
