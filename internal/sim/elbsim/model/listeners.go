package model

import (
	"sort"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// CreateListener creates an HTTP listener with its default rule.
func (m *Model) CreateListener(in *query.CreateListenerInput) (*query.ListenersResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.ListenersResult, *query.Error) {
		lb, err := tx.lb(in.LoadBalancerArn)
		if err != nil {
			return nil, err
		}
		if in.Port == nil {
			return nil, query.Validation("A listener port must be specified")
		}
		if err := checkRange(*in.Port, 1, 65535, "port"); err != nil {
			return nil, err
		}
		proto := in.Protocol
		if proto == "" {
			proto = "HTTP"
		}
		if err := checkListenerProtocol(proto); err != nil {
			return nil, err
		}
		existing := tx.ListenersOf(lb.ARN)
		for _, l := range existing {
			if l.Port == *in.Port {
				return nil, query.Client(query.CodeDuplicateListener, "A listener already exists on port %d of load balancer '%s'", *in.Port, lb.ARN)
			}
		}
		if len(existing) >= MaxListenersPerLB {
			return nil, query.Client(query.CodeTooManyListeners, "Load balancer '%s' already has the maximum of %d listeners", lb.ARN, MaxListenersPerLB)
		}
		actions, err := tx.normalizeActions(in.DefaultActions, lb.ARN, "defaultActions")
		if err != nil {
			return nil, err
		}
		tags := fromQueryTags(in.Tags)
		if err := checkTags(tags, "tags"); err != nil {
			return nil, err
		}
		l := &Listener{LoadBalancerARN: lb.ARN, ID: newID(m.o.Rand), Port: *in.Port, Protocol: proto, SslPolicy: in.SslPolicy,
			Certificates: in.Certificates, AlpnPolicy: in.AlpnPolicy, Seq: tx.nextSeq(), Tags: tags}
		l.ARN = tx.arnPrefix() + kindListener + "/app/" + lb.Name + "/" + lb.ID + "/" + l.ID
		def := &Rule{ListenerARN: l.ARN, IsDefault: true, Actions: actions, Seq: tx.nextSeq()}
		def.ARN = tx.arnPrefix() + kindRule + "/app/" + lb.Name + "/" + lb.ID + "/" + l.ID + "/" + newID(m.o.Rand)
		l.DefaultRuleARN = def.ARN
		tx.Listeners[l.ARN] = l
		tx.Rules[def.ARN] = def
		return &query.ListenersResult{Listeners: []query.Listener{tx.describeListener(l)}}, nil
	})
}

func checkListenerProtocol(p string) *query.Error {
	if err := oneOf(p, "protocol", "HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE"); err != nil {
		return err
	}
	if p != "HTTP" {
		return query.Client(query.CodeUnsupportedProtocol, "Listener protocol '%s' is not supported by elbsim: it serves HTTP listeners", p)
	}
	return nil
}

// ModifyListener changes the port, protocol or default actions of a listener.
func (m *Model) ModifyListener(in *query.ModifyListenerInput) (*query.ListenersResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.ListenersResult, *query.Error) {
		old, err := tx.listener(in.ListenerArn)
		if err != nil {
			return nil, err
		}
		l := *old
		if in.Port != nil {
			if err := checkRange(*in.Port, 1, 65535, "port"); err != nil {
				return nil, err
			}
			for _, o := range tx.ListenersOf(l.LoadBalancerARN) {
				if o.ARN != l.ARN && o.Port == *in.Port {
					return nil, query.Client(query.CodeDuplicateListener, "A listener already exists on port %d of load balancer '%s'", *in.Port, l.LoadBalancerARN)
				}
			}
			l.Port = *in.Port
		}
		if in.Protocol != "" {
			if err := checkListenerProtocol(in.Protocol); err != nil {
				return nil, err
			}
			l.Protocol = in.Protocol
		}
		if in.SslPolicy != "" {
			l.SslPolicy = in.SslPolicy
		}
		if in.Certificates != nil {
			l.Certificates = in.Certificates
		}
		if in.AlpnPolicy != nil {
			l.AlpnPolicy = in.AlpnPolicy
		}
		if in.DefaultActions != nil {
			actions, err := tx.normalizeActions(in.DefaultActions, l.LoadBalancerARN, "defaultActions")
			if err != nil {
				return nil, err
			}
			def := *tx.Rules[l.DefaultRuleARN]
			def.Actions = actions
			tx.Rules[def.ARN] = &def
		}
		tx.Listeners[l.ARN] = &l
		return &query.ListenersResult{Listeners: []query.Listener{tx.describeListener(&l)}}, nil
	})
}

// DeleteListener deletes a listener and its rules.
func (m *Model) DeleteListener(in *query.DeleteListenerInput) (*query.EmptyResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.EmptyResult, *query.Error) {
		if _, err := tx.listener(in.ListenerArn); err != nil {
			return nil, err
		}
		tx.deleteListener(in.ListenerArn)
		return &query.EmptyResult{}, nil
	})
}

func (tx *State) deleteListener(arn string) {
	for _, r := range tx.RulesOf(arn) {
		delete(tx.Rules, r.ARN)
	}
	delete(tx.Listeners, arn)
}

func (st *State) listener(arn string) (*Listener, *query.Error) {
	if err := checkARN(arn, kindListener); err != nil {
		return nil, err
	}
	l, ok := st.Listeners[arn]
	if !ok {
		return nil, query.Client(query.CodeListenerNotFound, "Listener '%s' not found", arn)
	}
	return l, nil
}

func (st *State) describeListener(l *Listener) query.Listener {
	var actions []query.Action
	if def := st.Rules[l.DefaultRuleARN]; def != nil {
		actions = def.Actions
	}
	return query.Listener{ListenerArn: l.ARN, LoadBalancerArn: l.LoadBalancerARN, Port: l.Port, Protocol: l.Protocol,
		Certificates: l.Certificates, SslPolicy: l.SslPolicy, DefaultActions: actions, AlpnPolicy: l.AlpnPolicy}
}

// DescribeListeners answers the listeners of a load balancer or the given listeners.
func (st *State) DescribeListeners(in *query.DescribeListenersInput) (*query.ListenersResult, *query.Error) {
	var ls []*Listener
	switch {
	case in.LoadBalancerArn != "" && len(in.ListenerArns) > 0:
		return nil, query.Validation("Listener ARNs and a load balancer ARN cannot be specified at the same time")
	case in.LoadBalancerArn != "":
		if _, err := st.lb(in.LoadBalancerArn); err != nil {
			return nil, err
		}
		ls = st.ListenersOf(in.LoadBalancerArn)
	case len(in.ListenerArns) > 0:
		for _, arn := range in.ListenerArns {
			if err := checkARN(arn, kindListener); err != nil {
				return nil, err
			}
			l, ok := st.Listeners[arn]
			if !ok {
				return nil, query.Client(query.CodeListenerNotFound, "One or more listeners not found")
			}
			ls = append(ls, l)
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].Seq < ls[j].Seq })
	default:
		return nil, query.Validation("You must specify either listener ARNs or a load balancer ARN")
	}
	pg, next, err := page(ls, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &query.ListenersResult{NextMarker: next, Listeners: make([]query.Listener, len(pg))}
	for i, l := range pg {
		out.Listeners[i] = st.describeListener(l)
	}
	return out, nil
}
