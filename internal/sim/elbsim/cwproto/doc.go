// Package cwproto is the wire codec of elbsim's CloudWatch API (version
// 2010-08-01): the request and response shapes of GetMetricData and
// ListMetrics, and the three protocols CloudWatch's clients speak.
//
//   - AWS Query: POST / with a form body (Action=GetMetricData&Version=2010-08-01,
//     lists as Name.member.N), XML responses in the monitoring namespace. AWS
//     CLI v2 up to 2.x of early 2025 and older SDKs send it.
//   - awsJson1_0: POST / with X-Amz-Target: GraniteServiceVersion20100801.<Op>
//     and a JSON body; timestamps are epoch seconds.
//   - Smithy RPC v2 CBOR: POST /service/GraniteServiceVersion20100801/operation/<Op>
//     with Smithy-Protocol: rpc-v2-cbor and a CBOR body; timestamps are CBOR
//     tag 1 (epoch seconds). Current aws-sdk-go-v2/service/cloudwatch and
//     botocore send it.
//
// Errors carry the Query error code (InvalidParameterValue, AccessDenied…):
// in the XML <Code>, and for JSON and CBOR as the "__type" of the error shape
// plus the x-amzn-query-error header ("Code;Sender"), which the
// awsQueryCompatible clients read, so every protocol gives the caller the
// same error code. The shapes live here; package cloudwatch interprets them.
package cwproto
