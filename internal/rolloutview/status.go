package rolloutview

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

// Status writes the detailed view of `albrollouts status`.
func Status(w io.Writer, t *rolloutctl.Tree, now time.Time, st Style) error {
	v := &view{st: st, now: now}
	v.render(t)
	_, err := io.WriteString(w, v.b.String())
	return err
}

type view struct {
	b   strings.Builder
	st  Style
	now time.Time
}

const labelWidth = 16

// kv writes "label:   value" with the value column aligned.
func (v *view) kv(indent int, label, value string) {
	l := strings.Repeat(" ", indent) + label
	if label != "" {
		l += ":"
	}
	fmt.Fprintf(&v.b, "%-*s %s\n", labelWidth, l, value)
}

func (v *view) section(title string) { fmt.Fprintf(&v.b, "\n%s:\n", v.st.paint(bold, title)) }

func (v *view) render(t *rolloutctl.Tree) {
	r := t.Rollout
	phase, msg := rolloutctl.Phase(r)
	status := v.st.paint(colorOf(string(phase)), string(phase))
	if msg != "" {
		status += " - " + msg
	}
	v.kv(0, "Name", r.Name)
	v.kv(0, "Namespace", r.Namespace)
	v.kv(0, "Status", status)
	if r.Status.Abort {
		v.kv(0, "Aborted", "yes, since "+ago(r.Status.AbortedAt, v.now)+" (retry with 'albrollouts retry "+r.Name+"')")
	}
	if r.Spec.Paused {
		v.kv(0, "Paused", "spec.paused is set (resume with 'albrollouts promote "+r.Name+"')")
	}
	for _, pc := range r.Status.PauseConditions {
		v.kv(0, "Pause condition", fmt.Sprintf("%s since %s", pc.Reason, ago(&pc.StartTime, v.now)))
	}
	v.kv(0, "Strategy", orDash(string(r.StrategyName())))
	if i, n, ok := rolloutctl.StepIndex(r); ok {
		v.kv(2, "Step", fmt.Sprintf("%d/%d", i, n))
	}
	if _, ok := rolloutctl.SetWeight(r); ok {
		v.kv(2, "Set weight", setWeightText(r))
	}
	v.traffic(r)
	v.images(t)
	st := &r.Status
	v.kv(0, "Replicas", fmt.Sprintf("desired %d, current %d, updated %d, ready %d, available %d",
		rolloutctl.DesiredReplicas(r), st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas))
	v.steps(r)
	v.verification(r)
	v.conditions(r)
	v.replicaSets(t)
}

// traffic writes the desired weights and whether they are verified.
func (v *view) traffic(r *v1alpha1.Rollout) {
	w := r.Status.Canary.Weights
	if w == nil {
		return
	}
	dest := func(role string, d v1alpha1.WeightDestination) string {
		s := fmt.Sprintf("%s %d", role, d.Weight)
		if d.ServiceName != "" {
			s += " (" + d.ServiceName + ")"
		}
		return s
	}
	parts := []string{dest("canary", w.Canary), dest("stable", w.Stable)}
	for _, a := range w.Additional {
		parts = append(parts, dest("additional", a))
	}
	desired := strings.Join(parts, ", ")
	if c := r.Spec.Strategy.Canary; c != nil && c.MaxWeight() != 100 {
		desired += fmt.Sprintf(" (out of %d)", c.MaxWeight())
	}
	v.kv(2, "Weights", desired)
	verified := "verification off"
	if w.Verified != nil {
		verified = v.st.paint(colorOf(yesNo(*w.Verified)), yesNo(*w.Verified))
	}
	if vs := r.Status.Verification; vs != nil && vs.Phase == v1alpha1.VerificationVerified && vs.DesiredWeights != nil {
		verified += fmt.Sprintf(" (canary %d, stable %d verified %s)", vs.DesiredWeights.Canary, vs.DesiredWeights.Stable, ago(vs.FinishedAt, v.now))
	}
	v.kv(2, "Verified", verified)
}

// images lists the images of the ReplicaSets that have a role, with the roles,
// or the template's images when none has.
func (v *view) images(t *rolloutctl.Tree) {
	type img struct {
		name  string
		roles []string
	}
	var imgs []img
	add := func(name string, roles []string) {
		for i := range imgs {
			if imgs[i].name == name {
				for _, r := range roles {
					if !slices.Contains(imgs[i].roles, r) {
						imgs[i].roles = append(imgs[i].roles, r)
					}
				}
				return
			}
		}
		imgs = append(imgs, img{name, slices.Clone(roles)})
	}
	for _, rs := range t.ReplicaSets {
		if len(rs.Roles) == 0 {
			continue
		}
		roles := make([]string, len(rs.Roles))
		for i, r := range rs.Roles {
			roles[i] = string(r)
		}
		for _, ctr := range rs.Spec.Template.Spec.Containers {
			add(ctr.Image, roles)
		}
	}
	if len(imgs) == 0 {
		for _, ctr := range t.Rollout.Spec.Template.Spec.Containers {
			add(ctr.Image, nil)
		}
	}
	label := "Images"
	for _, im := range imgs {
		s := im.name
		if len(im.roles) > 0 {
			s += " (" + strings.Join(im.roles, ", ") + ")"
		}
		v.kv(0, label, s)
		label = ""
	}
	if label != "" {
		v.kv(0, label, "-")
	}
}

// steps lists the canary steps, the done ones ticked and the current one marked.
func (v *view) steps(r *v1alpha1.Rollout) {
	index, n, ok := rolloutctl.StepIndex(r)
	if !ok {
		return
	}
	v.section(fmt.Sprintf("Steps (%d/%d)", index, n))
	for i, s := range r.Spec.Strategy.Canary.Steps {
		mark, text := "  ", StepString(s)
		switch {
		case int32(i) < index:
			mark = v.st.paint(green, "✔ ")
		case int32(i) == index:
			mark = v.st.paint(yellow, "▶ ")
			text = v.st.paint(bold, text) + "  ← current"
		}
		fmt.Fprintf(&v.b, "  %s%2d  %s\n", mark, i, text)
	}
	if index >= n {
		fmt.Fprintf(&v.b, "  all %d steps done\n", n)
	}
}

// StepString describes a canary step in a few words.
func StepString(s v1alpha1.CanaryStep) string {
	switch {
	case s.SetWeight != nil:
		return "setWeight " + strconv.Itoa(int(*s.SetWeight))
	case s.Pause != nil:
		if s.Pause.Duration == nil {
			return "pause (until promoted)"
		}
		return "pause " + pauseDuration(*s.Pause.Duration)
	case s.SetCanaryScale != nil:
		cs := s.SetCanaryScale
		switch {
		case cs.Weight != nil:
			return fmt.Sprintf("setCanaryScale weight %d", *cs.Weight)
		case cs.Replicas != nil:
			return fmt.Sprintf("setCanaryScale replicas %d", *cs.Replicas)
		default:
			return "setCanaryScale matchTrafficWeight"
		}
	case s.SetHeaderRoute != nil:
		hr := s.SetHeaderRoute
		if len(hr.Match) == 0 {
			return "setHeaderRoute " + hr.Name + " (remove)"
		}
		ms := make([]string, len(hr.Match))
		for i, m := range hr.Match {
			val := ""
			if m.HeaderValue != nil {
				val = m.HeaderValue.Exact
			}
			ms[i] = m.HeaderName + "=" + val
		}
		return "setHeaderRoute " + hr.Name + " " + strings.Join(ms, ", ")
	case s.Experiment != nil:
		return "experiment (not supported by albrollouts)"
	case s.Analysis != nil:
		return "analysis (not supported by albrollouts)"
	case s.SetMirrorRoute != nil:
		return "setMirrorRoute (not supported by albrollouts)"
	case s.Plugin != nil:
		return "plugin (not supported by albrollouts)"
	}
	return "(empty step)"
}

// pauseDuration writes a pause duration: a number is seconds.
func pauseDuration(d intstr.IntOrString) string {
	if d.Type == intstr.Int {
		return strconv.Itoa(int(d.IntVal)) + "s"
	}
	if _, err := strconv.Atoi(d.StrVal); err == nil {
		return d.StrVal + "s"
	}
	return d.StrVal
}

// verification writes status.verification: outcome, diagnosis, timing and
// what the last check saw per target group.
func (v *view) verification(r *v1alpha1.Rollout) {
	vs := r.Status.Verification
	if vs == nil {
		return
	}
	v.section("Verification")
	phase := v.st.paint(colorOf(string(vs.Phase)), string(vs.Phase))
	if vs.Reason != "" {
		phase += " (" + vs.Reason + ")"
	}
	v.kv(2, "Phase", phase)
	if vs.Message != "" {
		lines := strings.Split(vs.Message, "\n")
		v.kv(2, "Message", lines[0])
		for _, l := range lines[1:] {
			v.kv(2, "", l)
		}
	}
	kind := orDash(string(vs.Kind))
	if vs.StepIndex != nil {
		kind += fmt.Sprintf(", step %d", *vs.StepIndex)
	}
	if dw := vs.DesiredWeights; dw != nil {
		kind += fmt.Sprintf(", desired canary %d / stable %d", dw.Canary, dw.Stable)
		for _, a := range dw.Additional {
			kind += fmt.Sprintf(" / %s %d", orDash(a.ServiceName), a.Weight)
		}
	}
	v.kv(2, "Kind", kind)
	timing := fmt.Sprintf("%d (started %s, last checked %s", vs.Attempts, ago(vs.StartedAt, v.now), ago(vs.LastCheckedAt, v.now))
	if vs.FinishedAt != nil {
		timing += ", finished " + ago(vs.FinishedAt, v.now)
	}
	if vs.TimeoutSeconds > 0 {
		timing += fmt.Sprintf(", timeout %ds", vs.TimeoutSeconds)
	}
	v.kv(2, "Attempts", timing+")")
	if len(vs.TargetGroups) == 0 {
		return
	}
	fmt.Fprintf(&v.b, "  Target groups:\n")
	t := &table{}
	t.row(c("ROLE"), c("TARGET GROUP"), c("LISTENER"), c("DESIRED"), c("ACTUAL"), c("HEALTHY"), c("REGISTERED"))
	for _, tg := range vs.TargetGroups {
		actual := colored("none", red)
		if tg.ActualWeight != nil {
			actual = c(strconv.Itoa(int(*tg.ActualWeight)))
			if *tg.ActualWeight != tg.DesiredWeight {
				actual.color = red
			}
		}
		healthy := c(fmt.Sprintf("%d/%d", tg.HealthyTargets, tg.ExpectedTargets))
		if tg.HealthyTargets < tg.ExpectedTargets {
			healthy.color = red
		}
		t.row(c(orDash(tg.Role)), c(orDash(tg.Name)), c(lastSegment(tg.Listener)), c(strconv.Itoa(int(tg.DesiredWeight))),
			actual, healthy, c(fmt.Sprintf("%d/%d", tg.RegisteredTargets, tg.ExpectedTargets)))
		for _, u := range tg.Unhealthy {
			line := "  └ " + u.Target + " " + v.st.paint(red, orDash(u.State))
			if u.Reason != "" {
				line += " " + u.Reason
			}
			if u.Description != "" {
				line += ": " + u.Description
			}
			t.line(line)
		}
	}
	t.write(&v.b, "    ", v.st)
}

// lastSegment shortens an ARN to its last path segment (a listener's id).
func lastSegment(arn string) string {
	if arn == "" {
		return "-"
	}
	return arn[strings.LastIndex(arn, "/")+1:]
}

func (v *view) conditions(r *v1alpha1.Rollout) {
	if len(r.Status.Conditions) == 0 {
		return
	}
	v.section("Conditions")
	t := &table{}
	t.row(c("TYPE"), c("STATUS"), c("REASON"), c("SINCE"), c("MESSAGE"))
	for _, cd := range r.Status.Conditions {
		t.row(c(cd.Type), word(string(cd.Status)), c(orDash(cd.Reason)), c(age(cd.LastTransitionTime, v.now)), c(cd.Message))
	}
	t.write(&v.b, "  ", v.st)
}

// replicaSets writes the ReplicaSets (newest first) with their pods below them.
func (v *view) replicaSets(t *rolloutctl.Tree) {
	v.section("ReplicaSets")
	if len(t.ReplicaSets) == 0 {
		v.b.WriteString("  none yet\n")
		return
	}
	tb := &table{}
	tb.row(c("NAME"), c("REVISION"), c("HASH"), c("ROLE"), c("READY"), c("STATUS"), c("IP"), c("AGE"))
	for _, rs := range t.ReplicaSets {
		desired := int32(1)
		if rs.Spec.Replicas != nil {
			desired = *rs.Spec.Replicas
		}
		status := "Progressing"
		switch {
		case desired == 0 && rs.Status.Replicas == 0:
			status = "ScaledDown"
		case desired == 0:
			status = "ScalingDown"
		case rs.Status.ReadyReplicas >= desired:
			status = "Ready"
		}
		roles := make([]string, len(rs.Roles))
		for i, r := range rs.Roles {
			roles[i] = string(r)
		}
		rev := "-"
		if rs.Revision > 0 {
			rev = strconv.FormatInt(rs.Revision, 10)
		}
		tb.row(colored(rs.Name, bold), c(rev), c(orDash(rs.Hash)), c(orDash(strings.Join(roles, ","))),
			c(fmt.Sprintf("%d/%d", rs.Status.ReadyReplicas, desired)), word(status), c(""), c(age(rs.CreationTimestamp, v.now)))
		for i := range rs.Pods {
			p := &rs.Pods[i]
			branch := "├─ "
			if i == len(rs.Pods)-1 {
				branch = "└─ "
			}
			tb.row(c(branch+p.Name), c(""), c(""), c(""), c(podReady(p)), word(PodStatus(p)), c(orDash(p.Status.PodIP)), c(age(p.CreationTimestamp, v.now)))
		}
	}
	tb.write(&v.b, "  ", v.st)
}

// podReady is "ready containers/containers".
func podReady(p *corev1.Pod) string {
	ready := 0
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
}

// PodStatus is a pod's status as kubectl shows it: Terminating, a container's
// waiting or terminated reason (CrashLoopBackOff, Error...), the pod's reason,
// else its phase.
func PodStatus(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	status := string(p.Status.Phase)
	if p.Status.Reason != "" {
		status = p.Status.Reason
	}
	for _, cs := range p.Status.InitContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" {
			return "Init:" + w.Reason
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return "Init:" + orDash(t.Reason)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			status = w.Reason
		} else if t := cs.State.Terminated; t != nil && t.Reason != "" {
			status = t.Reason
		}
	}
	if status == "" {
		return "Pending"
	}
	return status
}
