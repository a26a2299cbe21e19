package model

import (
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// resourceTags returns the tags of the resource an ARN names, or the
// resource-specific NotFound error.
func (st *State) resourceTags(arn string) ([]Tag, *query.Error) {
	switch arnKind(arn) {
	case kindLoadBalancer:
		lb, err := st.lb(arn)
		if err != nil {
			return nil, err
		}
		return lb.Tags, nil
	case kindTargetGroup:
		tg, err := st.tg(arn)
		if err != nil {
			return nil, err
		}
		return tg.Tags, nil
	case kindListener:
		l, err := st.listener(arn)
		if err != nil {
			return nil, err
		}
		return l.Tags, nil
	case kindRule:
		r, err := st.rule(arn)
		if err != nil {
			return nil, err
		}
		return r.Tags, nil
	}
	return nil, query.Validation("'%s' is not a valid Elastic Load Balancing resource ARN", arn)
}

// setTags stores new tags on the resource an ARN names (which must exist).
func (tx *State) setTags(arn string, tags []Tag) {
	switch arnKind(arn) {
	case kindLoadBalancer:
		c := *tx.LoadBalancers[arn]
		c.Tags = tags
		tx.LoadBalancers[arn] = &c
	case kindTargetGroup:
		c := *tx.TargetGroups[arn]
		c.Tags = tags
		tx.TargetGroups[arn] = &c
	case kindListener:
		c := *tx.Listeners[arn]
		c.Tags = tags
		tx.Listeners[arn] = &c
	case kindRule:
		c := *tx.Rules[arn]
		c.Tags = tags
		tx.Rules[arn] = &c
	}
}

func checkResourceArns(arns []string) *query.Error {
	if len(arns) == 0 {
		return query.Validation("At least one resource ARN must be specified")
	}
	if len(arns) > MaxResourceArnsPerTag {
		return constraint(arns, "resourceArns", "Member must have length less than or equal to 20")
	}
	return nil
}

// AddTags adds or overwrites tags on up to 20 resources.
func (m *Model) AddTags(in *query.AddTagsInput) (*query.EmptyResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.EmptyResult, *query.Error) {
		if err := checkResourceArns(in.ResourceArns); err != nil {
			return nil, err
		}
		add := fromQueryTags(in.Tags)
		if len(add) == 0 {
			return nil, query.Validation("At least one tag must be specified")
		}
		if err := checkTags(add, "tags"); err != nil {
			return nil, err
		}
		for _, arn := range in.ResourceArns {
			old, err := tx.resourceTags(arn)
			if err != nil {
				return nil, err
			}
			merged := mergeTags(old, add)
			if len(merged) > MaxTagsPerResource {
				return nil, query.Client(query.CodeTooManyTags, "Resource '%s' would have %d tags; the limit is %d", arn, len(merged), MaxTagsPerResource)
			}
			tx.setTags(arn, merged)
		}
		return &query.EmptyResult{}, nil
	})
}

// RemoveTags removes tag keys from up to 20 resources.
func (m *Model) RemoveTags(in *query.RemoveTagsInput) (*query.EmptyResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.EmptyResult, *query.Error) {
		if err := checkResourceArns(in.ResourceArns); err != nil {
			return nil, err
		}
		if len(in.TagKeys) == 0 {
			return nil, query.Validation("At least one tag key must be specified")
		}
		for _, arn := range in.ResourceArns {
			old, err := tx.resourceTags(arn)
			if err != nil {
				return nil, err
			}
			tx.setTags(arn, removeTags(old, in.TagKeys))
		}
		return &query.EmptyResult{}, nil
	})
}

// DescribeTags answers the tags of up to 20 resources.
func (st *State) DescribeTags(in *query.DescribeTagsInput) (*query.TagsResult, *query.Error) {
	if err := checkResourceArns(in.ResourceArns); err != nil {
		return nil, err
	}
	out := &query.TagsResult{}
	for _, arn := range in.ResourceArns {
		tags, err := st.resourceTags(arn)
		if err != nil {
			return nil, err
		}
		d := query.TagDescription{ResourceArn: arn, Tags: make([]query.Tag, len(tags))}
		for i, t := range tags {
			d.Tags[i] = query.Tag{Key: t.Key, Value: ptr(t.Value)}
		}
		out.TagDescriptions = append(out.TagDescriptions, d)
	}
	return out, nil
}
