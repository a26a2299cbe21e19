// Package validation checks a Rollout for mistakes its CRD schema cannot catch:
// rules across fields (canary with ALB traffic routing needs canaryService and
// stableService, pingPong excludes them, blue-green's preview service must differ
// from the active one, one action per canary step, ...).
//
// It also repeats the CRD's own range checks (weights 0-100, timeoutSeconds
// 1-3600, exactly one of ingress/ingresses, ...) so a spec that never went
// through the API server (unit tests, an old CRD) gets the same answers.
//
// The controller reports the errors in the InvalidSpec condition; every message
// says what is wrong and what is expected.
package validation

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Defaults the controller applies when a field is unset; validation needs them to
// compare fields with each other.
const (
	DefaultProgressDeadlineSeconds = 600
	DefaultRevisionHistoryLimit    = 10
)

// Limits of the albrollouts and ALB fields.
const (
	MaxWeight              = 100
	MaxALBWeight           = 999 // the largest weight ELBv2 accepts in a forward action
	MinTimeoutSeconds      = 1
	MaxTimeoutSeconds      = 3600
	MinStickinessSeconds   = 1
	MaxStickinessSeconds   = 604800 // 7 days, the ELBv2 maximum
	defaultALBAnnotationNS = "alb.ingress.kubernetes.io"
)

// Rollout returns every problem of r's spec, with field paths rooted at "spec".
// An empty list means the spec is valid.
func Rollout(r *v1alpha1.Rollout) field.ErrorList {
	spec := &r.Spec
	p := field.NewPath("spec")
	var errs field.ErrorList

	if spec.Replicas != nil && *spec.Replicas < 0 {
		errs = append(errs, field.Invalid(p.Child("replicas"), *spec.Replicas, "must be 0 or more"))
	}
	errs = append(errs, selectorAndTemplate(spec, p)...)
	if spec.MinReadySeconds < 0 {
		errs = append(errs, field.Invalid(p.Child("minReadySeconds"), spec.MinReadySeconds, "must be 0 or more"))
	}
	if spec.RevisionHistoryLimit != nil && *spec.RevisionHistoryLimit < 0 {
		errs = append(errs, field.Invalid(p.Child("revisionHistoryLimit"), *spec.RevisionHistoryLimit, "must be 0 or more"))
	}
	deadline := int32(DefaultProgressDeadlineSeconds)
	if spec.ProgressDeadlineSeconds != nil {
		deadline = *spec.ProgressDeadlineSeconds
	}
	if deadline <= spec.MinReadySeconds {
		errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), deadline,
			fmt.Sprintf("must be greater than minReadySeconds (%d), or the rollout would always be reported as stuck", spec.MinReadySeconds)))
	}

	sp := p.Child("strategy")
	switch c, bg := spec.Strategy.Canary, spec.Strategy.BlueGreen; {
	case c == nil && bg == nil:
		errs = append(errs, field.Required(sp, "set strategy.canary or strategy.blueGreen"))
	case c != nil && bg != nil:
		errs = append(errs, field.Forbidden(sp, "set only one of strategy.canary and strategy.blueGreen, not both"))
	case c != nil:
		errs = append(errs, canary(spec, c, sp.Child("canary"))...)
	default:
		errs = append(errs, blueGreen(spec, bg, sp.Child("blueGreen"))...)
	}
	return errs
}

// selectorAndTemplate checks that the selector selects the template's pods.
func selectorAndTemplate(spec *v1alpha1.RolloutSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	tp := p.Child("template")
	from := "" // where the template comes from, for messages
	if ref := spec.WorkloadRef; ref != nil {
		errs = append(errs, WorkloadRef(ref, p.Child("workloadRef"))...)
		if !spec.TemplateResolvedFromRef {
			// As written: the template comes from the workload, read by the
			// controller at each pass; an inline one would be ambiguous.
			if !equality.Semantic.DeepEqual(spec.Template, corev1.PodTemplateSpec{}) {
				errs = append(errs, field.Forbidden(tp, fmt.Sprintf("template must be empty for workload reference rollout: the pod template comes from Deployment %q (spec.workloadRef); remove spec.template, or remove spec.workloadRef to use the inline template", ref.Name)))
			}
			return errs
		}
		from = fmt.Sprintf(" (the pod template of Deployment %q, spec.workloadRef)", ref.Name)
	}
	if len(spec.Template.Spec.Containers) == 0 {
		errs = append(errs, field.Required(tp.Child("spec", "containers"), "the pod template needs at least one container"+from))
	}
	sel := p.Child("selector")
	if spec.Selector == nil {
		return append(errs, field.Required(sel, "set a label selector that matches template.metadata.labels"))
	}
	if len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		return append(errs, field.Invalid(sel, spec.Selector, "an empty selector would select every pod in the namespace; select the template's labels"))
	}
	if selErrs := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, sel); len(selErrs) > 0 {
		return append(errs, selErrs...)
	}
	s, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil {
		return append(errs, field.Invalid(sel, spec.Selector, err.Error()))
	}
	if !s.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), spec.Template.Labels,
			fmt.Sprintf("selector %q does not match the template's labels%s; the rollout would not find its own pods", s.String(), from)))
	}
	return errs
}

// WorkloadRef checks spec.workloadRef itself: albrollouts takes the pod
// template from an apps/v1 Deployment, named, in the rollout's namespace.
func WorkloadRef(ref *v1alpha1.ObjectRef, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" {
		errs = append(errs, field.NotSupported(p, ref.APIVersion+" "+ref.Kind, []string{"apps/v1 Deployment"}))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "name the Deployment (same namespace) whose pod template the rollout runs"))
	} else if msgs := utilvalidation.IsDNS1123Subdomain(ref.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(p.Child("name"), ref.Name, strings.Join(msgs, "; ")))
	}
	switch ref.ScaleDown {
	case "", v1alpha1.ScaleDownNever, v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively:
	default:
		errs = append(errs, field.NotSupported(p.Child("scaleDown"), ref.ScaleDown,
			[]string{v1alpha1.ScaleDownNever, v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively}))
	}
	return errs
}

func blueGreen(spec *v1alpha1.RolloutSpec, bg *v1alpha1.BlueGreenStrategy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if bg.ActiveService == "" {
		errs = append(errs, field.Required(p.Child("activeService"), "name the Service that sends production traffic to the active ReplicaSet"))
	} else {
		errs = append(errs, serviceName(p.Child("activeService"), bg.ActiveService)...)
	}
	if bg.PreviewService != "" {
		errs = append(errs, serviceName(p.Child("previewService"), bg.PreviewService)...)
		if bg.PreviewService == bg.ActiveService {
			errs = append(errs, field.Invalid(p.Child("previewService"), bg.PreviewService,
				"must differ from activeService: the preview service points at the new version while the active one still serves the old"))
		}
	}
	errs = append(errs, nonNegative(p.Child("previewReplicaCount"), bg.PreviewReplicaCount)...)
	errs = append(errs, nonNegative(p.Child("scaleDownDelaySeconds"), bg.ScaleDownDelaySeconds)...)
	errs = append(errs, nonNegative(p.Child("abortScaleDownDelaySeconds"), bg.AbortScaleDownDelaySeconds)...)
	if bg.AutoPromotionSeconds < 0 {
		errs = append(errs, field.Invalid(p.Child("autoPromotionSeconds"), bg.AutoPromotionSeconds, "must be 0 or more"))
	}
	if _, err := intOrPercent(bg.MaxUnavailable, true); err != nil {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), bg.MaxUnavailable.String(), err.Error()))
	}
	errs = append(errs, scaleDownLimit(spec, p, bg.ScaleDownDelayRevisionLimit)...)
	if bg.ALB != nil {
		errs = append(errs, blueGreenALB(bg, p)...)
	}
	return errs
}

// blueGreenALB checks albrollouts' blue-green ALB extension: with an Ingress,
// the switch is made in the ALB between the active and preview target groups.
func blueGreenALB(bg *v1alpha1.BlueGreenStrategy, bgPath *field.Path) field.ErrorList {
	a, p := bg.ALB, bgPath.Child("alb")
	errs := verification(p, &a.ALBVerification)
	names := a.IngressNames()
	if a.Ingress != "" && len(a.Ingresses) > 0 {
		errs = append(errs, field.Forbidden(p.Child("ingresses"), "set only one of ingress and ingresses"))
	}
	seen := map[string]bool{}
	for i, name := range names {
		ip := p.Child("ingresses").Index(i)
		if a.Ingress != "" {
			ip = p.Child("ingress")
		}
		if seen[name] {
			errs = append(errs, field.Duplicate(ip, name))
		}
		seen[name] = true
		errs = append(errs, ingressName(ip, name)...)
	}
	if len(names) == 0 {
		for _, f := range []struct {
			name string
			set  bool
		}{{"rootService", a.RootService != ""}, {"servicePort", a.ServicePort != 0}, {"annotationPrefix", a.AnnotationPrefix != ""}} {
			if f.set {
				errs = append(errs, field.Forbidden(p.Child(f.name), "only applies with ingress or ingresses (a switch made in the ALB); remove it, or name the Ingress"))
			}
		}
		return errs
	}
	if bg.PreviewService == "" {
		errs = append(errs, field.Required(bgPath.Child("previewService"),
			"a switch made in the ALB needs previewService: the action forwards to the active and the preview target groups"))
	}
	if a.ServicePort < 1 || a.ServicePort > 65535 {
		errs = append(errs, field.Invalid(p.Child("servicePort"), a.ServicePort,
			"must be the port (1-65535) of the active and preview Services the Ingress action forwards to"))
	}
	if a.RootService != "" {
		errs = append(errs, serviceName(p.Child("rootService"), a.RootService)...)
		if a.RootService == bg.PreviewService {
			errs = append(errs, field.Invalid(p.Child("rootService"), a.RootService,
				"must not be the previewService: the root service's action splits traffic between active and preview"))
		}
	}
	if a.AnnotationPrefix != "" {
		if msgs := utilvalidation.IsDNS1123Subdomain(a.AnnotationPrefix); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("annotationPrefix"), a.AnnotationPrefix,
				fmt.Sprintf("must be an annotation prefix such as %s: %s", defaultALBAnnotationNS, strings.Join(msgs, "; "))))
		}
	}
	return errs
}

func canary(spec *v1alpha1.RolloutSpec, c *v1alpha1.CanaryStrategy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, surge(c, p)...)
	errs = append(errs, canaryServices(c, p)...)
	errs = append(errs, nonNegative(p.Child("scaleDownDelaySeconds"), c.ScaleDownDelaySeconds)...)
	errs = append(errs, nonNegative(p.Child("abortScaleDownDelaySeconds"), c.AbortScaleDownDelaySeconds)...)
	errs = append(errs, scaleDownLimit(spec, p, c.ScaleDownDelayRevisionLimit)...)

	tr := c.TrafficRouting
	if tr == nil {
		if c.ScaleDownDelaySeconds != nil {
			errs = append(errs, field.Forbidden(p.Child("scaleDownDelaySeconds"), "only applies with trafficRouting; remove it or configure trafficRouting.alb"))
		}
		if c.DynamicStableScale {
			errs = append(errs, field.Forbidden(p.Child("dynamicStableScale"), "only applies with trafficRouting; remove it or configure trafficRouting.alb"))
		}
	} else {
		if c.DynamicStableScale && c.ScaleDownDelaySeconds != nil {
			errs = append(errs, field.Forbidden(p.Child("dynamicStableScale"), "cannot be combined with scaleDownDelaySeconds: the stable side is scaled down as traffic leaves it"))
		}
		errs = append(errs, trafficRouting(c, tr, p.Child("trafficRouting"))...)
	}
	for i := range c.Steps {
		errs = append(errs, step(c, &c.Steps[i], p.Child("steps").Index(i))...)
	}
	return errs
}

// surge checks maxSurge and maxUnavailable.
func surge(c *v1alpha1.CanaryStrategy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	s, err := intOrPercent(c.MaxSurge, false)
	if err != nil {
		errs = append(errs, field.Invalid(p.Child("maxSurge"), c.MaxSurge.String(), err.Error()))
	}
	u, err2 := intOrPercent(c.MaxUnavailable, true)
	if err2 != nil {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), c.MaxUnavailable.String(), err2.Error()))
	}
	if err == nil && err2 == nil && s == 0 && u == 0 {
		errs = append(errs, field.Invalid(p.Child("maxSurge"), c.MaxSurge.String(),
			"maxSurge and maxUnavailable cannot both be 0: the rollout could neither add nor remove a pod"))
	}
	return errs
}

// canaryServices checks canaryService, stableService and pingPong.
func canaryServices(c *v1alpha1.CanaryStrategy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.CanaryService != "" {
		errs = append(errs, serviceName(p.Child("canaryService"), c.CanaryService)...)
	}
	if c.StableService != "" {
		errs = append(errs, serviceName(p.Child("stableService"), c.StableService)...)
	}
	if c.CanaryService != "" && c.CanaryService == c.StableService {
		errs = append(errs, field.Invalid(p.Child("stableService"), c.StableService,
			"must differ from canaryService: one Service selects the stable pods, the other the canary pods"))
	}
	alb := c.TrafficRouting != nil && c.TrafficRouting.ALB != nil
	if c.PingPong != nil {
		pp := p.Child("pingPong")
		if c.PingPong.PingService == "" {
			errs = append(errs, field.Required(pp.Child("pingService"), "pingPong needs both pingService and pongService"))
		} else {
			errs = append(errs, serviceName(pp.Child("pingService"), c.PingPong.PingService)...)
		}
		if c.PingPong.PongService == "" {
			errs = append(errs, field.Required(pp.Child("pongService"), "pingPong needs both pingService and pongService"))
		} else {
			errs = append(errs, serviceName(pp.Child("pongService"), c.PingPong.PongService)...)
		}
		if c.PingPong.PingService != "" && c.PingPong.PingService == c.PingPong.PongService {
			errs = append(errs, field.Invalid(pp.Child("pongService"), c.PingPong.PongService, "must differ from pingService"))
		}
		if c.CanaryService != "" {
			errs = append(errs, field.Forbidden(p.Child("canaryService"), "remove it: with pingPong, pingService and pongService take the canary and stable roles"))
		}
		if c.StableService != "" {
			errs = append(errs, field.Forbidden(p.Child("stableService"), "remove it: with pingPong, pingService and pongService take the canary and stable roles"))
		}
		if !alb {
			errs = append(errs, field.Required(p.Child("trafficRouting", "alb"), "pingPong works only with trafficRouting.alb"))
		} else if c.TrafficRouting.ALB.RootService == "" {
			errs = append(errs, field.Required(p.Child("trafficRouting", "alb", "rootService"),
				"pingPong with ALB needs rootService: the Ingress backend whose action splits traffic between ping and pong"))
		}
		return errs
	}
	if alb {
		if c.CanaryService == "" {
			errs = append(errs, field.Required(p.Child("canaryService"), "ALB traffic routing needs canaryService and stableService (or pingPong)"))
		}
		if c.StableService == "" {
			errs = append(errs, field.Required(p.Child("stableService"), "ALB traffic routing needs canaryService and stableService (or pingPong)"))
		}
	}
	return errs
}

func trafficRouting(c *v1alpha1.CanaryStrategy, tr *v1alpha1.RolloutTrafficRouting, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if tr.MaxTrafficWeight != nil && (*tr.MaxTrafficWeight < 1 || *tr.MaxTrafficWeight > MaxALBWeight) {
		errs = append(errs, field.Invalid(p.Child("maxTrafficWeight"), *tr.MaxTrafficWeight,
			fmt.Sprintf("must be between 1 and %d (the largest ALB target-group weight)", MaxALBWeight)))
	}
	seen := map[string]bool{}
	for i, r := range tr.ManagedRoutes {
		rp := p.Child("managedRoutes").Index(i).Child("name")
		switch {
		case r.Name == "":
			errs = append(errs, field.Required(rp, "every managed route needs a name"))
		case seen[r.Name]:
			errs = append(errs, field.Duplicate(rp, r.Name))
		}
		seen[r.Name] = true
	}
	if tr.ALB == nil {
		if !otherRouter(tr) {
			errs = append(errs, field.Required(p.Child("alb"), "trafficRouting needs a traffic router; albrollouts supports alb"))
		} else {
			// Nothing albrollouts could do would move this rollout's
			// traffic: it changes nothing rather than run the steps with
			// no router (leave it to Argo Rollouts, or add alb).
			errs = append(errs, field.Required(p.Child("alb"), "only alb traffic routing is supported; this rollout sets another router only (istio, nginx, smi, ...), so albrollouts changes nothing: leave it to Argo Rollouts (a different --instance-id) or route it through alb"))
		}
		return errs
	}
	return append(errs, alb(c, tr.ALB, p.Child("alb"))...)
}

// otherRouter reports whether an Argo traffic router other than ALB is set;
// those are reported as unsupported fields rather than as spec errors.
func otherRouter(tr *v1alpha1.RolloutTrafficRouting) bool {
	return tr.Istio != nil || tr.Nginx != nil || tr.SMI != nil || tr.Ambassador != nil ||
		tr.AppMesh != nil || tr.Traefik != nil || tr.Apisix != nil || tr.Plugins != nil
}

func alb(c *v1alpha1.CanaryStrategy, a *v1alpha1.ALBTrafficRouting, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case a.Ingress == "" && len(a.Ingresses) == 0:
		errs = append(errs, field.Required(p.Child("ingress"), "set ingress (one Ingress) or ingresses (several)"))
	case a.Ingress != "" && len(a.Ingresses) > 0:
		errs = append(errs, field.Forbidden(p.Child("ingresses"), "set only one of ingress and ingresses"))
	case a.Ingress != "":
		errs = append(errs, ingressName(p.Child("ingress"), a.Ingress)...)
	default:
		seen := map[string]bool{}
		for i, name := range a.Ingresses {
			ip := p.Child("ingresses").Index(i)
			if seen[name] {
				errs = append(errs, field.Duplicate(ip, name))
			}
			seen[name] = true
			errs = append(errs, ingressName(ip, name)...)
		}
	}
	if a.ServicePort < 1 || a.ServicePort > 65535 {
		errs = append(errs, field.Invalid(p.Child("servicePort"), a.ServicePort,
			"must be the Service port (1-65535) the Ingress action forwards to"))
	}
	if a.RootService != "" {
		errs = append(errs, serviceName(p.Child("rootService"), a.RootService)...)
		if a.RootService == c.CanaryService {
			errs = append(errs, field.Invalid(p.Child("rootService"), a.RootService,
				"must not be the canaryService: the root service's action splits traffic between stable and canary"))
		}
	}
	if a.AnnotationPrefix != "" {
		if msgs := utilvalidation.IsDNS1123Subdomain(a.AnnotationPrefix); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("annotationPrefix"), a.AnnotationPrefix,
				fmt.Sprintf("must be an annotation prefix such as %s: %s", defaultALBAnnotationNS, strings.Join(msgs, "; "))))
		}
	}
	if s := a.StickinessConfig; s != nil && (s.DurationSeconds < MinStickinessSeconds || s.DurationSeconds > MaxStickinessSeconds) {
		errs = append(errs, field.Invalid(p.Child("stickinessConfig", "durationSeconds"), s.DurationSeconds,
			fmt.Sprintf("must be between %d and %d seconds (7 days)", MinStickinessSeconds, MaxStickinessSeconds)))
	}
	return append(errs, verification(p, &a.ALBVerification)...)
}

// verification checks albrollouts' verifyTargetGroup/timeoutSeconds.
func verification(p *field.Path, v *v1alpha1.ALBVerification) field.ErrorList {
	if v == nil || v.TimeoutSeconds == nil {
		return nil
	}
	if t := *v.TimeoutSeconds; t < MinTimeoutSeconds || t > MaxTimeoutSeconds {
		return field.ErrorList{field.Invalid(p.Child("timeoutSeconds"), t,
			fmt.Sprintf("must be between %d and %d seconds; leave it unset to use the controller's --verify-timeout", MinTimeoutSeconds, MaxTimeoutSeconds))}
	}
	return nil
}

// step checks one canary step.
func step(c *v1alpha1.CanaryStrategy, s *v1alpha1.CanaryStep, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	actions := stepActions(s)
	switch {
	case len(actions) == 0:
		return field.ErrorList{field.Required(p, "a step needs one action: setWeight, pause, setCanaryScale or setHeaderRoute")}
	case len(actions) > 1:
		errs = append(errs, field.Invalid(p, strings.Join(actions, ", "),
			"a step takes exactly one action; split it into one step per action"))
	}
	if max := c.MaxWeight(); s.SetWeight != nil && (*s.SetWeight < 0 || *s.SetWeight > max) {
		errs = append(errs, field.Invalid(p.Child("setWeight"), *s.SetWeight,
			fmt.Sprintf("must be between 0 and %d (trafficRouting.maxTrafficWeight, default 100)", max)))
	}
	if s.Pause != nil && s.Pause.Duration != nil {
		if _, err := PauseDuration(s.Pause.Duration); err != nil {
			errs = append(errs, field.Invalid(p.Child("pause", "duration"), s.Pause.Duration.String(), err.Error()))
		}
	}
	if s.SetCanaryScale != nil {
		errs = append(errs, setCanaryScale(c, s.SetCanaryScale, p.Child("setCanaryScale"))...)
	}
	if s.SetHeaderRoute != nil {
		errs = append(errs, setHeaderRoute(c, s.SetHeaderRoute, p.Child("setHeaderRoute"))...)
	}
	return errs
}

// stepActions names the actions a step sets.
func stepActions(s *v1alpha1.CanaryStep) []string {
	var out []string
	add := func(name string, set bool) {
		if set {
			out = append(out, name)
		}
	}
	add("setWeight", s.SetWeight != nil)
	add("pause", s.Pause != nil)
	add("setCanaryScale", s.SetCanaryScale != nil)
	add("setHeaderRoute", s.SetHeaderRoute != nil)
	add("experiment", s.Experiment != nil)
	add("analysis", s.Analysis != nil)
	add("setMirrorRoute", s.SetMirrorRoute != nil)
	add("plugin", s.Plugin != nil)
	return out
}

func setCanaryScale(c *v1alpha1.CanaryStrategy, s *v1alpha1.SetCanaryScale, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.TrafficRouting == nil {
		errs = append(errs, field.Forbidden(p, "setCanaryScale needs trafficRouting: without it the canary's scale is its traffic weight"))
	}
	n := 0
	for _, set := range []bool{s.Weight != nil, s.Replicas != nil, s.MatchTrafficWeight} {
		if set {
			n++
		}
	}
	if n != 1 {
		errs = append(errs, field.Invalid(p, describeScale(s), "set exactly one of weight, replicas or matchTrafficWeight: true"))
	}
	if s.Weight != nil && (*s.Weight < 0 || *s.Weight > MaxWeight) {
		errs = append(errs, field.Invalid(p.Child("weight"), *s.Weight, "must be a percentage between 0 and 100"))
	}
	if s.Replicas != nil && *s.Replicas < 0 {
		errs = append(errs, field.Invalid(p.Child("replicas"), *s.Replicas, "must be 0 or more"))
	}
	return errs
}

func describeScale(s *v1alpha1.SetCanaryScale) string {
	var parts []string
	if s.Weight != nil {
		parts = append(parts, "weight="+strconv.Itoa(int(*s.Weight)))
	}
	if s.Replicas != nil {
		parts = append(parts, "replicas="+strconv.Itoa(int(*s.Replicas)))
	}
	if s.MatchTrafficWeight {
		parts = append(parts, "matchTrafficWeight=true")
	}
	if len(parts) == 0 {
		return "{}"
	}
	return strings.Join(parts, ", ")
}

func setHeaderRoute(c *v1alpha1.CanaryStrategy, h *v1alpha1.SetHeaderRoute, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	tr := c.TrafficRouting
	if tr == nil || tr.ALB == nil {
		errs = append(errs, field.Forbidden(p, "setHeaderRoute needs trafficRouting.alb"))
	}
	if h.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "name the route; the name must also be listed in trafficRouting.managedRoutes"))
	} else if tr != nil && !managed(tr, h.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), h.Name,
			"this route is not listed in trafficRouting.managedRoutes; add it there"))
	}
	for i, m := range h.Match {
		mp := p.Child("match").Index(i)
		if m.HeaderName == "" {
			errs = append(errs, field.Required(mp.Child("headerName"), "name the request header to match"))
		} else if msgs := utilvalidation.IsHTTPHeaderName(m.HeaderName); len(msgs) > 0 {
			errs = append(errs, field.Invalid(mp.Child("headerName"), m.HeaderName, strings.Join(msgs, "; ")))
		}
		v := m.HeaderValue
		switch {
		case v == nil || (v.Exact == "" && v.Prefix == "" && v.Regex == ""):
			errs = append(errs, field.Required(mp.Child("headerValue", "exact"), "set headerValue.exact; ALB matches exact header values only"))
		case v.Prefix != "" || v.Regex != "":
			errs = append(errs, field.Forbidden(mp.Child("headerValue"), "ALB matches exact header values only; use headerValue.exact instead of prefix or regex"))
		}
	}
	return errs
}

func managed(tr *v1alpha1.RolloutTrafficRouting, name string) bool {
	for _, r := range tr.ManagedRoutes {
		if r.Name == name {
			return true
		}
	}
	return false
}

// scaleDownLimit checks scaleDownDelayRevisionLimit against revisionHistoryLimit.
func scaleDownLimit(spec *v1alpha1.RolloutSpec, p *field.Path, limit *int32) field.ErrorList {
	if limit == nil {
		return nil
	}
	history := int32(DefaultRevisionHistoryLimit)
	if spec.RevisionHistoryLimit != nil {
		history = *spec.RevisionHistoryLimit
	}
	if *limit > history {
		return field.ErrorList{field.Invalid(p.Child("scaleDownDelayRevisionLimit"), *limit,
			fmt.Sprintf("must not exceed revisionHistoryLimit (%d)", history))}
	}
	return nonNegative(p.Child("scaleDownDelayRevisionLimit"), limit)
}

func nonNegative(p *field.Path, v *int32) field.ErrorList {
	if v != nil && *v < 0 {
		return field.ErrorList{field.Invalid(p, *v, "must be 0 or more")}
	}
	return nil
}

// serviceName checks a Service name (a DNS-1035 label).
func serviceName(p *field.Path, name string) field.ErrorList {
	if msgs := utilvalidation.IsDNS1035Label(name); len(msgs) > 0 {
		return field.ErrorList{field.Invalid(p, name, "not a valid Service name: "+strings.Join(msgs, "; "))}
	}
	return nil
}

// ingressName checks an Ingress name (a DNS-1123 subdomain).
func ingressName(p *field.Path, name string) field.ErrorList {
	if msgs := utilvalidation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return field.ErrorList{field.Invalid(p, name, "not a valid Ingress name: "+strings.Join(msgs, "; "))}
	}
	return nil
}

// intOrPercent parses maxSurge/maxUnavailable: a count >= 0 or a percentage
// "N%" (at most 100% when capped). Nil means the 25% default.
func intOrPercent(v *intstr.IntOrString, capped bool) (int, error) {
	if v == nil {
		return 25, nil
	}
	if v.Type == intstr.Int {
		if v.IntVal < 0 {
			return 0, fmt.Errorf("must be 0 or more")
		}
		return int(v.IntVal), nil
	}
	if len(utilvalidation.IsValidPercent(v.StrVal)) > 0 {
		return 0, fmt.Errorf("must be a number of pods or a percentage such as 25%%")
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	if err != nil {
		return 0, fmt.Errorf("must be a number of pods or a percentage such as 25%%")
	}
	if capped && n > 100 {
		return 0, fmt.Errorf("must not exceed 100%%")
	}
	return n, nil
}

// PauseDuration converts a pause step's duration (seconds as an integer, or a
// string: "30" or a Go duration such as "30s", "5m", "1h") to a time.Duration.
func PauseDuration(d *intstr.IntOrString) (time.Duration, error) {
	if d.Type == intstr.Int {
		if d.IntVal < 0 {
			return 0, fmt.Errorf("must be 0 or more seconds")
		}
		return time.Duration(d.IntVal) * time.Second, nil
	}
	if n, err := strconv.ParseInt(d.StrVal, 10, 32); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("must be 0 or more seconds")
		}
		return time.Duration(n) * time.Second, nil
	}
	dur, err := time.ParseDuration(d.StrVal)
	if err != nil {
		return 0, fmt.Errorf("must be seconds (e.g. 30) or a duration with a unit (e.g. 30s, 5m, 1h)")
	}
	if dur < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	return dur, nil
}
