package controller

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
)

// canaryPort is the Service port the canary's traffic goes through: the
// port of trafficRouting.alb.servicePort, except while the action written
// on the Ingress forwards to another port of both Services (the spec's
// port was changed after it was written). Traffic then stays on the
// written port's target groups, where every move is checked: moving it to
// the new port's groups would send it to groups the load balancer
// controller creates only with the write, whose targets cannot be checked
// healthy before. The ServicePortPending condition says so, and what to do.
func (c *rolloutContext) canaryPort() int32 {
	alb := c.albSpec()
	canary, stable := c.canaryServiceNames()
	p, ok := c.writtenPort(alb.IngressNames(), alb.AnnotationPrefix, c.ro.Spec.Strategy.Canary.ActionService(), canary, stable)
	if !ok || p == alb.ServicePort {
		c.removeCondition(v1alpha1.ConditionServicePortPending)
		return alb.ServicePort
	}
	c.setCondition(v1alpha1.ConditionServicePortPending, corev1.ConditionTrue, v1alpha1.ReasonServicePortPending,
		fmt.Sprintf("trafficRouting.alb.servicePort is %d, but the action on the Ingress forwards to port %d of services %s and %s: "+
			"traffic stays on port %d's target groups, where each shift is checked (port %d's groups do not exist until the action names them, "+
			"so their targets cannot be checked healthy first). To move it: set servicePort back to %d, or edit the action's ServicePort to %d "+
			"when the rollout is healthy", alb.ServicePort, p, canary, stable, p, alb.ServicePort, p, alb.ServicePort))
	return p
}

// writtenPort is the numeric Service port that the action (on the first of
// ingresses that has one) forwards to for both services, when it names a
// single port that both Services have.
func (c *rolloutContext) writtenPort(ingresses []string, prefix, action, canary, stable string) (int32, bool) {
	key := albannotation.ActionKey(prefix, action)
	for _, name := range ingresses {
		ing := c.obs.ingresses[name]
		if ing == nil || ing.Annotations[key] == "" {
			continue
		}
		a, err := albannotation.ParseAction(ing.Annotations[key])
		if err != nil || a.ForwardConfig == nil {
			return 0, false
		}
		port := ""
		for _, tg := range a.ForwardConfig.TargetGroups {
			if tg.ServiceName != canary && tg.ServiceName != stable {
				return 0, false
			}
			if port != "" && string(tg.ServicePort) != port {
				return 0, false
			}
			port = string(tg.ServicePort)
		}
		n, err := strconv.ParseInt(port, 10, 32)
		if err != nil {
			return 0, false
		}
		for _, svc := range []string{canary, stable} {
			if c.obs.services[svc] == nil || !hasPort(c.obs.services[svc], int32(n)) {
				return 0, false
			}
		}
		return int32(n), true
	}
	return 0, false
}
