package aws

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/clankerd/clankerd/checks"
)

// ec2Error writes EC2's error envelope (its query protocol differs from IAM's).
func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>`, code, msg)
}

func iamError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>4a9f</RequestId></ErrorResponse>`, code, msg)
}

func TestAPIErrorsAreErrors(t *testing.T) {
	for _, tc := range []struct {
		name, check string
		reply       func(w http.ResponseWriter, op string)
		want        []string
		attempts    int
		wantCalls   int
	}{
		{"access denied", "aws.ec2.sg.open", func(w http.ResponseWriter, op string) {
			ec2Error(w, 403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
		}, []string{"ec2:DescribeSecurityGroups in us-east-1", "access denied", "lacks ec2:DescribeSecurityGroups", "contrib/aws/clankerd-read.json"}, 1, 1},
		{"IAM access denied", "aws.iam.users.nomfa", func(w http.ResponseWriter, op string) {
			if op == "GetCallerIdentity" {
				xmlReply(w, op, callerIdentity)
				return
			}
			iamError(w, 403, "AccessDenied", "User: arn:aws:iam::210987654321:user/ops is not authorized to perform: iam:GenerateCredentialReport")
		}, []string{"iam:GenerateCredentialReport", "lacks iam:GenerateCredentialReport"}, 1, 2},
		{"expired token", "aws.ec2.volumes.unattached", func(w http.ResponseWriter, op string) {
			ec2Error(w, 400, "RequestExpired", "Request has expired.")
		}, []string{"ec2:DescribeVolumes", "rejected the credentials", "aws sso login"}, 1, 1},
		{"throttled after retries", "aws.ec2.eip.unassociated", func(w http.ResponseWriter, op string) {
			ec2Error(w, 503, "RequestLimitExceeded", "Request limit exceeded.")
		}, []string{"ec2:DescribeAddresses", "throttled by AWS even after retries"}, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newWire(t, func(w http.ResponseWriter, op string, body []byte) { tc.reply(w, op) })
			p := New(Options{MaxAttempts: tc.attempts})
			res, err := runAt(t, p, srv.URL, tc.check, nil)
			if err == nil {
				t.Fatalf("%s answered %+v, want an error", tc.check, res)
			}
			if _, skipped := checks.IsSkip(err); skipped {
				t.Fatalf("skipped: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := int(p.Calls()); got != tc.wantCalls || len(srv.calls) != tc.wantCalls {
				t.Errorf("calls = %d (server saw %d), want %d", got, len(srv.calls), tc.wantCalls)
			}
		})
	}
}

func TestNoCredentialsSkips(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	p := New(Options{MaxAttempts: 1})
	_, err := runAt(t, p, "http://127.0.0.1:1", "aws.ec2.sg.open", nil)
	if reason, ok := checks.IsSkip(err); !ok || !strings.Contains(reason, "no AWS credentials") {
		t.Errorf("without credentials: %v, want skipped", err)
	}
	if p.Calls() != 0 {
		t.Errorf("%d calls without credentials", p.Calls())
	}

	// A named profile that does not exist is a configuration error, not a skip.
	cfg := filepath.Join(home, ".aws", "config")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("[profile prod]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = runAt(t, New(Options{MaxAttempts: 1}), "http://127.0.0.1:1", "aws.ec2.sg.open", map[string]string{"profile": "staging"})
	if _, skipped := checks.IsSkip(err); err == nil || skipped || !strings.Contains(err.Error(), `profile "staging" is not in the shared config`) {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestUnreachableEndpointIsError(t *testing.T) {
	p := New(Options{MaxAttempts: 1})
	_, err := runAt(t, p, "http://127.0.0.1:1", "aws.ec2.instances.stopped", nil)
	if _, skipped := checks.IsSkip(err); err == nil || skipped || !strings.Contains(err.Error(), "cannot reach the AWS endpoint") {
		t.Errorf("unreachable endpoint: %v", err)
	}
}

// TestAccountLookupRecovers: a failed STS call is an error for that run only; the
// provider (in a daemon, long-lived) asks again on the next run.
func TestAccountLookupRecovers(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	srv := newWire(t, func(w http.ResponseWriter, op string, body []byte) {
		switch {
		case op == "GetCallerIdentity" && fail.Load():
			iamError(w, 503, "ServiceUnavailable", "try again")
		case op == "GetCallerIdentity":
			xmlReply(w, op, callerIdentity)
		case op == "GenerateCredentialReport":
			xmlReply(w, op, "<State>COMPLETE</State>")
		case op == "GetCredentialReport":
			xmlReply(w, op, "<Content></Content><ReportFormat>text/csv</ReportFormat>")
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	p := New(Options{MaxAttempts: 1})
	if _, err := runAt(t, p, srv.URL, "aws.iam.users.nomfa", nil); err == nil || !strings.Contains(err.Error(), "sts:GetCallerIdentity") {
		t.Fatalf("STS down: %v", err)
	}
	fail.Store(false)
	if _, err := runAt(t, p, srv.URL, "aws.iam.users.nomfa", nil); err != nil {
		t.Errorf("after STS recovered: %v", err)
	}
}
