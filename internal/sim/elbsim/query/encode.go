package query

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"strconv"
)

// Namespace is the XML namespace of ELBv2 responses.
const Namespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// APIVersion is the only Version elbsim answers.
const APIVersion = "2015-12-01"

// RequestIDHeader carries the request id; the Go SDK reads it only from this header.
const RequestIDHeader = "x-amzn-RequestId"

// NewRequestID returns a random UUID (version 4), the form AWS request ids take.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// MarshalResult renders a success response:
//
//	<OpResponse xmlns="…"><OpResult>…</OpResult><ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></OpResponse>
func MarshalResult(action, requestID string, result any) ([]byte, error) {
	return MarshalResultIn(Namespace, action, requestID, result)
}

// MarshalResultIn is MarshalResult for another service's XML namespace.
func MarshalResultIn(namespace, action, requestID string, result any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	buf.WriteString("<" + action + `Response xmlns="` + namespace + `">`)
	enc := xml.NewEncoder(&buf)
	if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		return nil, err
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	buf.WriteString("<ResponseMetadata><RequestId>")
	_ = xml.EscapeText(&buf, []byte(requestID)) // writes to a bytes.Buffer cannot fail
	buf.WriteString("</RequestId></ResponseMetadata></" + action + "Response>\n")
	return buf.Bytes(), nil
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     errorBody
	RequestID string `xml:"RequestId"`
}

type errorBody struct {
	XMLName xml.Name `xml:"Error"`
	Type    string   `xml:"Type"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

// MarshalError renders an error response:
//
//	<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>
func MarshalError(requestID string, e *Error) []byte {
	return MarshalErrorIn(Namespace, requestID, e)
}

// MarshalErrorIn is MarshalError for another service's XML namespace.
func MarshalErrorIn(namespace, requestID string, e *Error) []byte {
	body, err := xml.Marshal(errorResponse{
		Xmlns:     namespace,
		Error:     errorBody{Type: e.Type(), Code: e.Code, Message: e.Message},
		RequestID: requestID,
	})
	if err != nil { // cannot happen for these plain string fields
		body = []byte("<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>")
	}
	return append([]byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"), append(body, '\n')...)
}

// WriteResult writes a 200 response with the result of action.
func WriteResult(w http.ResponseWriter, action, requestID string, result any) {
	body, err := MarshalResult(action, requestID, result)
	if err != nil {
		WriteError(w, requestID, Errorf(http.StatusInternalServerError, CodeInternalFailure, "elbsim could not encode the %s response: %v", action, err))
		return
	}
	WriteXML(w, http.StatusOK, requestID, body)
}

// WriteError writes an error response with the status of e.
func WriteError(w http.ResponseWriter, requestID string, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	WriteXML(w, status, requestID, MarshalError(requestID, e))
}

// WriteXML writes an XML response body with the request id header.
func WriteXML(w http.ResponseWriter, status int, requestID string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set(RequestIDHeader, requestID)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing to do
}
