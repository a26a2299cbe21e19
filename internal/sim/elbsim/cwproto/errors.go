package cwproto

import "github.com/albrollouts/albrollouts/internal/sim/elbsim/query"

// CloudWatch's error codes, as the Query protocol names them (the code the
// SDKs report for every protocol).
const (
	CodeInvalidParameterValue       = "InvalidParameterValue"
	CodeMissingParameter            = "MissingParameter"
	CodeInvalidParameterCombination = "InvalidParameterCombination"
	CodeInvalidNextToken            = "InvalidNextToken"
	CodeInternalServiceError        = "InternalServiceError"
	CodeValidationError             = "ValidationError"
	CodeSerialization               = "SerializationException"
)

// modelled are the error shapes CloudWatch's service model declares, by Query
// code: JSON and CBOR name them by shape ID.
var modelled = map[string]string{
	CodeInvalidParameterValue:       "InvalidParameterValueException",
	CodeMissingParameter:            "MissingRequiredParameterException",
	CodeInvalidParameterCombination: "InvalidParameterCombinationException",
	CodeInvalidNextToken:            "InvalidNextToken",
	CodeInternalServiceError:        "InternalServiceFault",
	CodeValidationError:             "ValidationException",
	"LimitExceeded":                 "LimitExceededException",
}

// common are the errors every AWS JSON service answers, by Query code.
var common = map[string]string{
	query.CodeAccessDenied:               "AccessDeniedException",
	query.CodeThrottling:                 "ThrottlingException",
	query.CodeInvalidClientTokenID:       "UnrecognizedClientException",
	query.CodeSignatureDoesNotMatch:      "InvalidSignatureException",
	query.CodeMissingAuthenticationToken: "MissingAuthenticationTokenException",
	query.CodeIncompleteSignature:        "IncompleteSignatureException",
	query.CodeInvalidAction:              "UnknownOperationException",
	query.CodeInternalFailure:            "InternalFailure",
}

// errorType is the "__type" of an error in JSON and CBOR.
func errorType(code string) string {
	if t, ok := modelled[code]; ok {
		return "com.amazonaws.cloudwatch#" + t
	}
	if t, ok := common[code]; ok {
		return t
	}
	return code
}

// InvalidValue is CloudWatch's 400 InvalidParameterValue.
func InvalidValue(format string, args ...any) *query.Error {
	return query.Client(CodeInvalidParameterValue, format, args...)
}

func invalidValue(msg string) *query.Error { return query.Client(CodeInvalidParameterValue, "%s", msg) }

// Missing is CloudWatch's 400 MissingParameter for a required parameter.
func Missing(param string) *query.Error {
	return query.Client(CodeMissingParameter, "The parameter %s is required.", param)
}
