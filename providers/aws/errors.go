package aws

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/smithy-go"

	"github.com/clankerd/clankerd/checks"
)

// Error codes AWS services use for the same few situations.
var (
	deniedCodes = map[string]bool{
		"AccessDenied": true, "AccessDeniedException": true, "UnauthorizedOperation": true,
		"AuthorizationError": true, "Forbidden": true, "UnauthorizedAccess": true,
	}
	credentialCodes = map[string]bool{
		"ExpiredToken": true, "ExpiredTokenException": true, "RequestExpired": true,
		"InvalidClientTokenId": true, "SignatureDoesNotMatch": true, "UnrecognizedClientException": true,
		"AuthFailure": true, "InvalidAccessKeyId": true, "InvalidToken": true,
	}
	throttleCodes = map[string]bool{
		"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true,
		"TooManyRequestsException": true, "SlowDown": true, "RequestThrottled": true,
	}
)

// apiError explains a failed call: which API action, where, and what to do. action
// is the IAM action ("ec2:DescribeSecurityGroups"), which is also the permission a
// denied call lacks.
func (c *conn) apiError(action, region string, err error) error {
	if err == nil {
		return nil
	}
	call := describe(action, region)
	var api smithy.APIError
	var netErr net.Error
	switch {
	case errors.Is(err, checks.ErrDrift):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", call, err)
	case errors.As(err, &api) && deniedCodes[api.ErrorCode()]:
		return fmt.Errorf("%s: access denied for profile %s: the policy lacks %s (grant the read-only policy in contrib/aws/clankerd-read.json): %w", call, c.profile, action, err)
	case errors.As(err, &api) && credentialCodes[api.ErrorCode()]:
		return fmt.Errorf("%s: AWS rejected the credentials of profile %s (%s): refresh them (`aws sso login`, or new keys): %w", call, c.profile, api.ErrorCode(), err)
	case errors.As(err, &api) && throttleCodes[api.ErrorCode()]:
		return fmt.Errorf("%s: throttled by AWS even after retries; run the check less often or narrow its regions: %w", call, err)
	case errors.As(err, &netErr):
		return fmt.Errorf("%s: cannot reach the AWS endpoint: %w", call, err)
	}
	return fmt.Errorf("%s: %w", call, err)
}

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}
