package query

import (
	"fmt"
	"net/http"
)

// Error is an AWS API error as the Query protocol answers it: an HTTP status,
// a code (without the "Exception" suffix, e.g. "LoadBalancerNotFound") and a
// message for people.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Type is the <Type> element of the error: Sender for client errors, Receiver otherwise.
func (e *Error) Type() string {
	if e.Status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// Errorf builds an Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Client is shorthand for a 400 error with the given code.
func Client(code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, format, args...)
}

// Validation is shorthand for a 400 ValidationError.
func Validation(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, CodeValidationError, format, args...)
}

// Wire error codes used by elbsim (the SDK maps the service-specific ones to
// typed errors such as *types.LoadBalancerNotFoundException).
const (
	CodeValidationError            = "ValidationError"
	CodeInvalidAction              = "InvalidAction"
	CodeMissingAction              = "MissingAction"
	CodeMalformedQueryString       = "MalformedQueryString"
	CodeInternalFailure            = "InternalFailure"
	CodeThrottling                 = "Throttling"
	CodeAccessDenied               = "AccessDenied"
	CodeInvalidClientTokenID       = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch      = "SignatureDoesNotMatch"
	CodeMissingAuthenticationToken = "MissingAuthenticationToken"
	CodeIncompleteSignature        = "IncompleteSignature"

	CodeLoadBalancerNotFound          = "LoadBalancerNotFound"
	CodeListenerNotFound              = "ListenerNotFound"
	CodeRuleNotFound                  = "RuleNotFound"
	CodeTargetGroupNotFound           = "TargetGroupNotFound"
	CodeInvalidTarget                 = "InvalidTarget"
	CodeDuplicateLoadBalancerName     = "DuplicateLoadBalancerName"
	CodeDuplicateTargetGroupName      = "DuplicateTargetGroupName"
	CodeDuplicateListener             = "DuplicateListener"
	CodeDuplicateTagKeys              = "DuplicateTagKeys"
	CodePriorityInUse                 = "PriorityInUse"
	CodeTooManyTargets                = "TooManyTargets"
	CodeTooManyTags                   = "TooManyTags"
	CodeTooManyRules                  = "TooManyRules"
	CodeTooManyListeners              = "TooManyListeners"
	CodeTooManyLoadBalancers          = "TooManyLoadBalancers"
	CodeTooManyTargetGroups           = "TooManyTargetGroups"
	CodeTooManyActions                = "TooManyActions"
	CodeOperationNotPermitted         = "OperationNotPermitted"
	CodeInvalidConfigurationRequest   = "InvalidConfigurationRequest"
	CodeInvalidLoadBalancerAction     = "InvalidLoadBalancerAction"
	CodeResourceInUse                 = "ResourceInUse"
	CodeUnsupportedProtocol           = "UnsupportedProtocol"
	CodeTargetGroupAssociationLimit   = "TargetGroupAssociationLimit"
	CodeIncompatibleProtocols         = "IncompatibleProtocols"
	CodeTooManyRegistrationsForTarget = "TooManyRegistrationsForTargetId"
)
