package cwproto

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

const (
	// APIVersion is CloudWatch's API version, the Version of its Query requests.
	APIVersion = "2010-08-01"
	// Namespace is the XML namespace of CloudWatch's Query responses.
	Namespace = "http://monitoring.amazonaws.com/doc/2010-08-01/"
	// ServiceName is the Smithy service name: the X-Amz-Target prefix (JSON)
	// and the service segment of the RPC v2 path (CBOR).
	ServiceName = "GraniteServiceVersion20100801"

	cborPathPrefix = "/service/" + ServiceName + "/operation/"
)

// Protocol is a wire protocol of CloudWatch.
type Protocol string

// The protocols elbsim's CloudWatch API speaks.
const (
	ProtocolQuery Protocol = "awsQuery"
	ProtocolJSON  Protocol = "awsJson1_0"
	ProtocolCBOR  Protocol = "rpcv2Cbor"
)

// inputs maps each operation elbsim serves to a constructor of its input shape.
var inputs = map[string]func() any{
	"GetMetricData": func() any { return &GetMetricDataInput{} },
	"ListMetrics":   func() any { return &ListMetricsInput{} },
}

// Known reports whether op is a CloudWatch operation elbsim serves.
func Known(op string) bool { _, ok := inputs[op]; return ok }

// Operations returns the CloudWatch operations elbsim serves, sorted.
func Operations() []string {
	out := make([]string, 0, len(inputs))
	for op := range inputs {
		out = append(out, op)
	}
	sort.Strings(out)
	return out
}

// Call is one CloudWatch request: its protocol, its operation and its
// still-encoded input.
type Call struct {
	Protocol  Protocol
	Operation string
	body      []byte
	params    url.Values
}

// FromHTTP recognizes a JSON (X-Amz-Target: GraniteServiceVersion20100801.Op)
// or RPC v2 CBOR (POST /service/GraniteServiceVersion20100801/operation/Op)
// CloudWatch request. ok is false for anything else (such as a Query request).
func FromHTTP(r *http.Request, body []byte) (c *Call, ok bool) {
	if op, found := strings.CutPrefix(r.URL.Path, cborPathPrefix); found {
		return &Call{Protocol: ProtocolCBOR, Operation: op, body: body}, true
	}
	if op, found := strings.CutPrefix(r.Header.Get("X-Amz-Target"), ServiceName+"."); found {
		return &Call{Protocol: ProtocolJSON, Operation: op, body: body}, true
	}
	return nil, false
}

// FromQuery recognizes a Query request meant for CloudWatch: its Version is
// CloudWatch's, or it has none and its Action is a CloudWatch operation.
func FromQuery(req *query.Request) (c *Call, ok bool) {
	if req.Version == APIVersion || req.Version == "" && Known(req.Action) {
		return &Call{Protocol: ProtocolQuery, Operation: req.Action, params: req.Params}, true
	}
	return nil, false
}

// Decode returns the operation's input shape filled from the request.
func (c *Call) Decode() (any, *query.Error) {
	newInput, ok := inputs[c.Operation]
	if !ok {
		return nil, UnknownOperation(c.Operation)
	}
	in := newInput()
	switch c.Protocol {
	case ProtocolQuery:
		if err := query.Decode(c.params, in); err != nil {
			return nil, invalidValue(err.Message)
		}
	case ProtocolJSON:
		body := bytes.TrimSpace(c.body)
		if len(body) == 0 {
			body = []byte("{}")
		}
		if err := json.Unmarshal(body, in); err != nil {
			return nil, query.Client(CodeSerialization, "The request body is not a valid %s input in JSON: %v", c.Operation, err)
		}
	case ProtocolCBOR:
		if len(c.body) > 0 {
			if err := cbor.Unmarshal(c.body, in); err != nil {
				return nil, query.Client(CodeSerialization, "The request body is not a valid %s input in CBOR: %v", c.Operation, err)
			}
		}
	}
	return in, nil
}

// UnknownOperation is the error for an operation elbsim's CloudWatch does not serve.
func UnknownOperation(op string) *query.Error {
	return query.Client(query.CodeInvalidAction, "The action %s is not valid for this web service; elbsim's CloudWatch serves %s.",
		op, strings.Join(Operations(), " and "))
}

// WriteResult writes a 200 response with out, in the request's protocol.
func (c *Call) WriteResult(w http.ResponseWriter, requestID string, out any) {
	var body []byte
	var err error
	switch c.Protocol {
	case ProtocolQuery:
		body, err = query.MarshalResultIn(Namespace, c.Operation, requestID, out)
		if err == nil {
			query.WriteXML(w, http.StatusOK, requestID, body)
			return
		}
	case ProtocolJSON:
		body, err = json.Marshal(out)
	case ProtocolCBOR:
		body, err = cbor.Marshal(out)
	}
	if err != nil {
		c.WriteError(w, requestID, query.Errorf(http.StatusInternalServerError, CodeInternalServiceError,
			"elbsim could not encode the %s response: %v", c.Operation, err))
		return
	}
	c.write(w, http.StatusOK, requestID, body)
}

// WriteError writes e in the request's protocol.
func (c *Call) WriteError(w http.ResponseWriter, requestID string, e *query.Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if c.Protocol == ProtocolQuery {
		query.WriteXML(w, status, requestID, query.MarshalErrorIn(Namespace, requestID, e))
		return
	}
	shape := map[string]string{"__type": errorType(e.Code), "message": e.Message}
	var body []byte
	if c.Protocol == ProtocolCBOR {
		body, _ = cbor.Marshal(shape) // a map of strings always encodes
	} else {
		body, _ = json.Marshal(shape) // a map of strings always encodes
	}
	w.Header().Set("X-Amzn-Query-Error", e.Code+";"+e.Type())
	c.write(w, status, requestID, body)
}

func (c *Call) write(w http.ResponseWriter, status int, requestID string, body []byte) {
	h := w.Header()
	if c.Protocol == ProtocolCBOR {
		h.Set("Content-Type", "application/cbor")
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
	} else {
		h.Set("Content-Type", "application/x-amz-json-1.0")
	}
	h.Set(query.RequestIDHeader, requestID)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing to do
}
