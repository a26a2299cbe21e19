package cloudwatch

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// node is a parsed metric math expression. elbsim's metric math has numbers,
// query ids, + - * / ^, unary minus, parentheses, FILL(series, value) and
// ABS(x); anything else is a ValidationError naming what it does not know.
type node any

type (
	numNode struct{ v float64 }
	refNode struct{ id string }
	negNode struct{ x node }
	binNode struct {
		op   byte
		l, r node
	}
	callNode struct {
		fn   string
		args []node
	}
)

// functions are the metric math functions elbsim evaluates, with their arity.
var functions = map[string]int{"FILL": 2, "ABS": 1}

type parser struct {
	src  string
	toks []token
	pos  int
}

type token struct {
	kind byte // 'n' number, 'i' identifier, or the operator/punctuation itself; 0 at the end
	text string
	at   int
}

func tokenize(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := rune(src[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case strings.ContainsRune("+-*/^(),", c):
			toks = append(toks, token{kind: byte(c), text: string(c), at: i})
			i++
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(src) && (unicode.IsDigit(rune(src[j])) || src[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: 'n', text: src[i:j], at: i})
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(src) && (unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j])) || src[j] == '_') {
				j++
			}
			toks = append(toks, token{kind: 'i', text: src[i:j], at: i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at position %d", c, i+1)
		}
	}
	return append(toks, token{at: len(src)}), nil
}

// parseExpr parses a metric math expression.
func parseExpr(src string) (node, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	n, err := p.sum()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != 0 {
		return nil, fmt.Errorf("unexpected %q at position %d", t.text, t.at+1)
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }

func (p *parser) sum() (node, error) {
	l, err := p.product()
	for err == nil && (p.peek().kind == '+' || p.peek().kind == '-') {
		op := p.next().kind
		var r node
		if r, err = p.product(); err == nil {
			l = binNode{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) product() (node, error) {
	l, err := p.unary()
	for err == nil && (p.peek().kind == '*' || p.peek().kind == '/') {
		op := p.next().kind
		var r node
		if r, err = p.unary(); err == nil {
			l = binNode{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) unary() (node, error) {
	if p.peek().kind == '-' {
		p.next()
		x, err := p.unary()
		return negNode{x}, err
	}
	base, err := p.primary()
	if err != nil || p.peek().kind != '^' {
		return base, err
	}
	p.next()
	exp, err := p.unary()
	return binNode{op: '^', l: base, r: exp}, err
}

func (p *parser) primary() (node, error) {
	t := p.next()
	switch t.kind {
	case 'n':
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("%q at position %d is not a number", t.text, t.at+1)
		}
		return numNode{v}, nil
	case '(':
		n, err := p.sum()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != ')' {
			return nil, fmt.Errorf("missing ')' at position %d", c.at+1)
		}
		return n, nil
	case 'i':
		if p.peek().kind == '(' {
			return p.call(t)
		}
		return refNode{t.text}, nil
	case 0:
		return nil, fmt.Errorf("the expression ends where a value is expected")
	}
	return nil, fmt.Errorf("unexpected %q at position %d", t.text, t.at+1)
}

func (p *parser) call(name token) (node, error) {
	p.next() // (
	arity, ok := functions[name.text]
	if !ok {
		return nil, fmt.Errorf("unsupported function %s at position %d: elbsim's metric math has + - * / ^, FILL and ABS", name.text, name.at+1)
	}
	c := callNode{fn: name.text}
	for p.peek().kind != ')' {
		if len(c.args) > 0 {
			if t := p.next(); t.kind != ',' {
				return nil, fmt.Errorf("expected ',' or ')' at position %d", t.at+1)
			}
		}
		a, err := p.sum()
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, a)
	}
	p.next() // )
	if len(c.args) != arity {
		return nil, fmt.Errorf("%s takes %d arguments, got %d", c.fn, arity, len(c.args))
	}
	return c, nil
}

// refs returns the query ids an expression uses.
func refs(n node, out map[string]bool) {
	switch n := n.(type) {
	case refNode:
		out[n.id] = true
	case negNode:
		refs(n.x, out)
	case binNode:
		refs(n.l, out)
		refs(n.r, out)
	case callNode:
		for _, a := range n.args {
			refs(a, out)
		}
	}
}

// value is what an expression evaluates to: a number or a time series.
type value struct {
	scalar float64
	ts     *timeSeries // nil for a number
}

// eval evaluates n, resolving query ids with lookup.
func eval(n node, lookup func(string) (*timeSeries, error)) (value, error) {
	switch n := n.(type) {
	case numNode:
		return value{scalar: n.v}, nil
	case refNode:
		ts, err := lookup(n.id)
		return value{ts: ts}, err
	case negNode:
		x, err := eval(n.x, lookup)
		if err != nil {
			return x, err
		}
		return apply(value{scalar: 0}, x, '-'), nil
	case binNode:
		l, err := eval(n.l, lookup)
		if err != nil {
			return l, err
		}
		r, err := eval(n.r, lookup)
		if err != nil {
			return r, err
		}
		return apply(l, r, n.op), nil
	case callNode:
		return evalCall(n, lookup)
	}
	return value{}, fmt.Errorf("elbsim bug: unknown expression node %T", n)
}

func evalCall(n callNode, lookup func(string) (*timeSeries, error)) (value, error) {
	args := make([]value, len(n.args))
	for i, a := range n.args {
		v, err := eval(a, lookup)
		if err != nil {
			return v, err
		}
		args[i] = v
	}
	switch n.fn {
	case "ABS":
		return mapValue(args[0], math.Abs), nil
	default: // FILL
		if args[0].ts == nil || args[1].ts != nil {
			return value{}, fmt.Errorf("FILL takes a time series and a number")
		}
		return value{ts: args[0].ts.fill(args[1].scalar)}, nil
	}
}

func mapValue(v value, f func(float64) float64) value {
	if v.ts == nil {
		return value{scalar: f(v.scalar)}
	}
	out := v.ts.empty()
	for i, t := range v.ts.times {
		out.add(t, f(v.ts.values[i]))
	}
	return value{ts: out}
}

func arith(op byte, a, b float64) float64 {
	switch op {
	case '+':
		return a + b
	case '-':
		return a - b
	case '*':
		return a * b
	case '/':
		return a / b
	}
	return math.Pow(a, b)
}

// apply combines two values. Two series combine at the timestamps both have;
// a result that is not a finite number (division by zero) is left out.
func apply(l, r value, op byte) value {
	switch {
	case l.ts == nil && r.ts == nil:
		return value{scalar: arith(op, l.scalar, r.scalar)}
	case r.ts == nil:
		return mapValue(l, func(a float64) float64 { return arith(op, a, r.scalar) })
	case l.ts == nil:
		return mapValue(r, func(b float64) float64 { return arith(op, l.scalar, b) })
	}
	out := l.ts.empty()
	i, j := 0, 0
	for i < len(l.ts.times) && j < len(r.ts.times) {
		switch a, b := l.ts.times[i], r.ts.times[j]; {
		case a < b:
			i++
		case a > b:
			j++
		default:
			out.add(a, arith(op, l.ts.values[i], r.ts.values[j]))
			i++
			j++
		}
	}
	return value{ts: out}
}
