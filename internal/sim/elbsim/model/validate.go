package model

import (
	"encoding/base64"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9-]+$`)

// checkName validates a load balancer or target group name (1-32 alphanumerics
// and hyphens, not starting or ending with a hyphen).
func checkName(what, name string) *query.Error {
	switch {
	case name == "":
		return query.Validation("A %s name must be specified", what)
	case len(name) > 32:
		return query.Validation("%s name '%s' cannot be longer than 32 characters", what, name)
	case !nameRE.MatchString(name):
		return query.Validation("%s name '%s' can contain only alphanumeric characters and hyphens", what, name)
	case strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-"):
		return query.Validation("%s name '%s' cannot begin or end with a hyphen", what, name)
	}
	return nil
}

// constraint formats AWS's generic validation message.
func constraint(value any, at, rule string) *query.Error {
	return query.Validation("1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, at, rule)
}

func checkRange(v int32, lo, hi int32, at string) *query.Error {
	if v < lo {
		return constraint(v, at, "Member must have value greater than or equal to "+strconv.Itoa(int(lo)))
	}
	if v > hi {
		return constraint(v, at, "Member must have value less than or equal to "+strconv.Itoa(int(hi)))
	}
	return nil
}

func oneOf(v, at string, allowed ...string) *query.Error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return constraint(v, at, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

// ----- pagination -----

// page cuts items (already in answer order) into the page selected by marker
// and pageSize. The marker is an opaque offset, as AWS's markers are opaque.
func page[T any](items []T, marker string, pageSize *int32) ([]T, string, *query.Error) {
	size := int32(DefaultPageSize)
	if pageSize != nil {
		if err := checkRange(*pageSize, 1, MaxPageSize, "pageSize"); err != nil {
			return nil, "", err
		}
		size = *pageSize
	}
	start := 0
	if marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(marker)
		n, convErr := strconv.Atoi(strings.TrimPrefix(string(raw), "elbsim:"))
		if err != nil || convErr != nil || !strings.HasPrefix(string(raw), "elbsim:") || n < 0 {
			return nil, "", query.Validation("Invalid Marker '%s': pass the NextMarker of a previous answer", marker)
		}
		start = min(n, len(items))
	}
	end := min(start+int(size), len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("elbsim:" + strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}

// ----- tags -----

func checkTags(tags []Tag, at string) *query.Error {
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 {
			return constraint(t.Key, at+".key", "Member must have length between 1 and 128")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return query.Validation("Tag key '%s' is not allowed: keys starting with 'aws:' are reserved", t.Key)
		}
		if len(t.Value) > 256 {
			return constraint(t.Value, at+".value", "Member must have length less than or equal to 256")
		}
		if seen[t.Key] {
			return query.Client(query.CodeDuplicateTagKeys, "Tag key '%s' is duplicated in the request", t.Key)
		}
		seen[t.Key] = true
	}
	if len(tags) > MaxTagsPerResource {
		return query.Client(query.CodeTooManyTags, "A resource can have at most %d tags; the request has %d", MaxTagsPerResource, len(tags))
	}
	return nil
}

func fromQueryTags(in []query.Tag) []Tag {
	if len(in) == 0 {
		return nil
	}
	out := make([]Tag, len(in))
	for i, t := range in {
		out[i] = Tag{Key: t.Key}
		if t.Value != nil {
			out[i].Value = *t.Value
		}
	}
	return out
}

// mergeTags returns old with add applied (same key: value replaced), as a new slice.
func mergeTags(old, add []Tag) []Tag {
	out := append([]Tag(nil), old...)
	for _, a := range add {
		replaced := false
		for i := range out {
			if out[i].Key == a.Key {
				out[i].Value = a.Value
				replaced = true
			}
		}
		if !replaced {
			out = append(out, a)
		}
	}
	return out
}

func removeTags(old []Tag, keys []string) []Tag {
	drop := map[string]bool{}
	for _, k := range keys {
		drop[k] = true
	}
	var out []Tag
	for _, t := range old {
		if !drop[t.Key] {
			out = append(out, t)
		}
	}
	return out
}

// ----- conditions -----

var conditionFields = []string{"host-header", "path-pattern", "http-header", "http-request-method", "query-string", "source-ip"}

// normalizeConditions validates rule conditions and returns them as Describe*
// answers them: the legacy Values list and the typed config both filled for
// host-header and path-pattern, only the config for the other fields.
func normalizeConditions(in []query.RuleCondition) ([]query.RuleCondition, *query.Error) {
	if len(in) == 0 {
		return nil, query.Validation("A rule must have at least one condition")
	}
	seen := map[string]bool{}
	out := make([]query.RuleCondition, 0, len(in))
	total := 0
	for i, c := range in {
		at := "conditions." + strconv.Itoa(i+1) + ".member"
		if err := oneOf(c.Field, at+".field", conditionFields...); err != nil {
			return nil, err
		}
		if seen[c.Field] && c.Field != "http-header" && c.Field != "query-string" {
			return nil, query.Validation("A rule can have only one '%s' condition", c.Field)
		}
		seen[c.Field] = true
		n, err := normalizeCondition(c, at)
		if err != nil {
			return nil, err
		}
		total += conditionValueCount(n)
		out = append(out, n)
	}
	if total > 5 {
		return nil, query.Validation("A rule can have at most 5 condition values in total; this one has %d", total)
	}
	return out, nil
}

func conditionValueCount(c query.RuleCondition) int {
	switch {
	case c.HTTPHeaderConfig != nil:
		return len(c.HTTPHeaderConfig.Values)
	case c.QueryStringConfig != nil:
		return len(c.QueryStringConfig.Values)
	case c.HostHeaderConfig != nil:
		return len(c.HostHeaderConfig.Values)
	case c.PathPatternConfig != nil:
		return len(c.PathPatternConfig.Values)
	case c.HTTPRequestMethodConfig != nil:
		return len(c.HTTPRequestMethodConfig.Values)
	case c.SourceIPConfig != nil:
		return len(c.SourceIPConfig.Values)
	}
	return 0
}

var methodRE = regexp.MustCompile(`^[A-Z_-]{1,40}$`)

func normalizeCondition(c query.RuleCondition, at string) (query.RuleCondition, *query.Error) {
	out := query.RuleCondition{Field: c.Field}
	pick := func(cfg *query.ValuesConfig, name string) ([]string, *query.Error) {
		if cfg != nil && len(c.Values) > 0 {
			return nil, query.Validation("Specify either Values or %s for condition '%s', not both", name, c.Field)
		}
		vals := c.Values
		if cfg != nil {
			vals = cfg.Values
		}
		if len(vals) == 0 {
			return nil, query.Validation("Condition '%s' at '%s' must have at least one value", c.Field, at)
		}
		for _, v := range vals {
			if v == "" || len(v) > 128 {
				return nil, constraint(v, at+".values", "Member must have length between 1 and 128")
			}
		}
		return append([]string(nil), vals...), nil
	}
	switch c.Field {
	case "host-header":
		vals, err := pick(c.HostHeaderConfig, "HostHeaderConfig")
		if err != nil {
			return out, err
		}
		out.Values, out.HostHeaderConfig = vals, &query.ValuesConfig{Values: vals}
	case "path-pattern":
		vals, err := pick(c.PathPatternConfig, "PathPatternConfig")
		if err != nil {
			return out, err
		}
		out.Values, out.PathPatternConfig = vals, &query.ValuesConfig{Values: vals}
	case "http-request-method":
		if c.HTTPRequestMethodConfig == nil || len(c.HTTPRequestMethodConfig.Values) == 0 {
			return out, query.Validation("Condition 'http-request-method' needs HttpRequestMethodConfig.Values")
		}
		for _, v := range c.HTTPRequestMethodConfig.Values {
			if !methodRE.MatchString(v) {
				return out, query.Validation("HTTP request method '%s' is invalid: use upper-case letters, '_' and '-'", v)
			}
		}
		out.HTTPRequestMethodConfig = &query.ValuesConfig{Values: append([]string(nil), c.HTTPRequestMethodConfig.Values...)}
	case "http-header":
		h := c.HTTPHeaderConfig
		if h == nil || h.HTTPHeaderName == "" || len(h.Values) == 0 {
			return out, query.Validation("Condition 'http-header' needs HttpHeaderConfig with HttpHeaderName and at least one value")
		}
		if len(h.HTTPHeaderName) > 40 {
			return out, constraint(h.HTTPHeaderName, at+".httpHeaderConfig.httpHeaderName", "Member must have length less than or equal to 40")
		}
		out.HTTPHeaderConfig = &query.HTTPHeaderConditionConfig{HTTPHeaderName: h.HTTPHeaderName, Values: append([]string(nil), h.Values...)}
	case "query-string":
		q := c.QueryStringConfig
		if q == nil || len(q.Values) == 0 {
			return out, query.Validation("Condition 'query-string' needs QueryStringConfig with at least one key/value pair")
		}
		for _, kv := range q.Values {
			if kv.Value == "" {
				return out, query.Validation("Every query-string condition pair needs a Value")
			}
		}
		out.QueryStringConfig = &query.QueryStringConditionConfig{Values: append([]query.QueryStringKeyValuePair(nil), q.Values...)}
	case "source-ip":
		if c.SourceIPConfig == nil || len(c.SourceIPConfig.Values) == 0 {
			return out, query.Validation("Condition 'source-ip' needs SourceIpConfig.Values (CIDR blocks)")
		}
		for _, v := range c.SourceIPConfig.Values {
			if _, _, err := net.ParseCIDR(v); err != nil {
				return out, query.Validation("Source IP '%s' is not a valid CIDR block", v)
			}
		}
		out.SourceIPConfig = &query.ValuesConfig{Values: append([]string(nil), c.SourceIPConfig.Values...)}
	}
	return out, nil
}
