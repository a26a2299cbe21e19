// Package query is the AWS Query protocol codec of elbsim: it parses
// application/x-www-form-urlencoded request bodies (Action=…&Version=…, lists
// as Name.member.N, maps as Name.entry.N.key/value) into typed request shapes,
// and renders XML success responses (<OpResponse><OpResult>…) and error
// responses (<ErrorResponse><Error><Type/><Code/><Message/></Error>), with the
// request id in the body and in the x-amzn-RequestId header (the Go SDK reads
// only the header).
//
// The shapes (shapes.go) follow the ELBv2 API 2015-12-01 member names; one
// struct tag per field serves both decoding and encoding.
package query
