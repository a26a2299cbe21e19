package query

import (
	"encoding"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// MaxBodyBytes bounds the size of a request body elbsim reads.
const MaxBodyBytes = 1 << 20

// Request is a parsed Query request: the Action, the API Version and the other parameters.
type Request struct {
	Action  string
	Version string
	Params  url.Values
}

// ParseForm parses an application/x-www-form-urlencoded request body (or URL query).
// Bad escapes and repeated parameters are a MalformedQueryString error; a missing
// Action is MissingAction.
func ParseForm(body string) (*Request, *Error) {
	vals, err := url.ParseQuery(body)
	if err != nil {
		return nil, Client(CodeMalformedQueryString, "The request body is not a valid application/x-www-form-urlencoded string: %v", err)
	}
	for k, v := range vals {
		if len(v) > 1 {
			return nil, Client(CodeMalformedQueryString, "Parameter %q is given %d times; give it once.", k, len(v))
		}
	}
	req := &Request{Action: vals.Get("Action"), Version: vals.Get("Version"), Params: vals}
	if req.Action == "" {
		return nil, Client(CodeMissingAction, "The request must contain the parameter Action.")
	}
	return req, nil
}

// node is one segment of the dotted parameter names, e.g. "Actions" in
// "Actions.member.1.Type": decoding walks this tree instead of scanning keys.
type node struct {
	value    *string
	children map[string]*node
}

func buildTree(params url.Values) *node {
	root := &node{}
	for k, vs := range params {
		n := root
		for seg := range strings.SplitSeq(k, ".") {
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c := n.children[seg]
			if c == nil {
				c = &node{}
				n.children[seg] = c
			}
			n = c
		}
		if len(vs) > 0 {
			v := vs[0]
			n.value = &v
		}
	}
	return root
}

// Decode fills the struct pointed to by out from the request parameters, using
// the wire name of each field (see shapes.go). Unknown parameters are ignored, as
// newer SDKs send members elbsim does not model; malformed values (a number that
// is not a number, a list index that is not 1..N) are a ValidationError naming
// the parameter.
func Decode(params url.Values, out any) *Error {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return Errorf(500, CodeInternalFailure, "elbsim bug: Decode needs a pointer to a struct, got %T", out)
	}
	return decodeStruct(buildTree(params), "", v.Elem())
}

// wireName is the parameter name of a struct field: the `query` tag if set,
// else the `xml` tag up to '>' or ',', else the field name.
func wireName(f reflect.StructField) string {
	if t, ok := f.Tag.Lookup("query"); ok {
		return t
	}
	t := f.Tag.Get("xml")
	if i := strings.IndexAny(t, ">,"); i >= 0 {
		t = t[:i]
	}
	if t == "" || t == "-" {
		return f.Name
	}
	return t
}

func decodeStruct(n *node, path string, v reflect.Value) *Error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("xml") == "-" && f.Tag.Get("query") == "" {
			continue
		}
		name := wireName(f)
		child := n.children[name]
		if child == nil {
			continue
		}
		if err := decodeValue(child, join(path, name), v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func decodeValue(n *node, path string, v reflect.Value) *Error {
	if reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		return decodeText(n, path, v)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type().Elem().Kind() == reflect.Struct && n.children == nil && !reflect.PointerTo(v.Type().Elem()).Implements(textUnmarshaler) {
			return nil // "X=" with no members: nothing to decode
		}
		if v.Type().Elem().Kind() != reflect.Struct && n.value == nil {
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := decodeValue(n, path, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return decodeStruct(n, path, v)
	case reflect.Slice:
		return decodeList(n, path, v)
	case reflect.Map:
		return decodeMap(n, path, v)
	}
	if n.value == nil {
		return nil
	}
	return decodeScalar(*n.value, path, v)
}

// decodeText decodes a value whose type reads itself from text (a timestamp).
func decodeText(n *node, path string, v reflect.Value) *Error {
	if n.value == nil {
		return nil
	}
	u, _ := v.Addr().Interface().(encoding.TextUnmarshaler) // the caller checked the type
	if err := u.UnmarshalText([]byte(*n.value)); err != nil {
		return Validation("Value '%s' at '%s' failed to satisfy constraint: %v", *n.value, path, err)
	}
	return nil
}

func decodeScalar(s, path string, v reflect.Value) *Error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return Validation("Value '%s' at '%s' failed to satisfy constraint: Member must be true or false", s, path)
		}
	case reflect.Int32, reflect.Int64, reflect.Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return Validation("Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", s, path)
		}
		v.SetInt(n)
	default:
		return Errorf(500, CodeInternalFailure, "elbsim bug: unsupported field kind %s at %s", v.Kind(), path)
	}
	return nil
}

// indexed returns the children of n named 1..N in ascending order. Gaps are
// allowed (they are compacted); "0", negative or non-numeric indexes are errors.
func indexed(n *node, path string) ([]*node, *Error) {
	type item struct {
		i int
		n *node
	}
	items := make([]item, 0, len(n.children))
	for k, c := range n.children {
		i, err := strconv.Atoi(k)
		if err != nil || i < 1 || strconv.Itoa(i) != k {
			return nil, Validation("Parameter '%s.%s' has an invalid list index '%s': indexes are 1, 2, 3, …", path, k, k)
		}
		items = append(items, item{i, c})
	}
	sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
	out := make([]*node, len(items))
	for i, it := range items {
		out[i] = it.n
	}
	return out, nil
}

func decodeList(n *node, path string, v reflect.Value) *Error {
	members := n.children["member"]
	if members == nil {
		// "Tags=" (an empty list as the SDKs send it) or "Tags" with no members.
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return nil
	}
	items, err := indexed(members, path+".member")
	if err != nil {
		return err
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, it := range items {
		if err := decodeValue(it, path+".member."+strconv.Itoa(i+1), s.Index(i)); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

func decodeMap(n *node, path string, v reflect.Value) *Error {
	if v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
		return Errorf(500, CodeInternalFailure, "elbsim bug: only map[string]string is supported at %s", path)
	}
	m := reflect.MakeMap(v.Type())
	if entries := n.children["entry"]; entries != nil {
		items, err := indexed(entries, path+".entry")
		if err != nil {
			return err
		}
		for i, it := range items {
			k, val := it.children["key"], it.children["value"]
			if k == nil || k.value == nil {
				return Validation("Parameter '%s.entry.%d' has no key", path, i+1)
			}
			s := ""
			if val != nil && val.value != nil {
				s = *val.value
			}
			m.SetMapIndex(reflect.ValueOf(*k.value), reflect.ValueOf(s))
		}
	}
	v.Set(m)
	return nil
}
