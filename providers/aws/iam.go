package aws

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/clankerd/clankerd/checks"
)

const rootUser = "<root_account>"

func (c *conn) iam() *iam.Client {
	return iam.NewFromConfig(c.cfg, func(o *iam.Options) { o.Region = defaultRegion(c) })
}

// credentialRow is one user of the IAM credential report.
type credentialRow map[string]string

func (r credentialRow) bool(k string) bool { return r[k] == "true" }

// time reads a date column; "N/A", "no_information" and "not_supported" are unknown.
func (r credentialRow) time(k string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, r[k])
	return t, err == nil
}

// credentialReport reads the IAM credential report: one row per user with password,
// MFA and access key facts, in two calls (generate, then get) instead of several per
// user. It waits while AWS builds the report.
func (c *conn) credentialReport(ctx context.Context) ([]credentialRow, error) {
	return checks.Memo(ctx, c.memoKey("", "credential-report"), func(ctx context.Context) ([]credentialRow, error) {
		client := c.iam()
		for attempt := 0; ; attempt++ {
			gen, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
			if err != nil {
				return nil, c.apiError("iam:GenerateCredentialReport", "", err)
			}
			if gen.State == iamtypes.ReportStateTypeComplete || attempt > 0 {
				out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
				var notReady *iamtypes.CredentialReportNotReadyException
				var inProgress *iamtypes.CredentialReportNotPresentException
				switch {
				case errors.As(err, &notReady), errors.As(err, &inProgress):
				case err != nil:
					return nil, c.apiError("iam:GetCredentialReport", "", err)
				default:
					return parseCredentialReport(out.Content)
				}
			}
			if attempt >= 10 {
				return nil, fmt.Errorf("iam:GenerateCredentialReport: the report was still not ready after %d tries; run the check again later", attempt+1)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
			}
		}
	})
}

func parseCredentialReport(content []byte) ([]credentialRow, error) {
	recs, err := csv.NewReader(strings.NewReader(string(content))).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading the IAM credential report: %w", err)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	head := recs[0]
	out := make([]credentialRow, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		row := credentialRow{}
		for i, h := range head {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// accountReport is the account id and its credential report.
func (c *conn) accountReport(ctx context.Context) (string, []credentialRow, error) {
	account, err := c.accountID(ctx)
	if err != nil {
		return "", nil, err
	}
	rows, err := c.credentialReport(ctx)
	return account, rows, err
}

func (p *Provider) iamRoot(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error) {
	account, rows, err := c.accountReport(ctx)
	if err != nil {
		return nil, err
	}
	var keys, mfa bool
	var source string
	found := false
	for _, r := range rows {
		if r["user"] == rootUser {
			found = true
			keys, mfa, source = r.bool("access_key_1_active") || r.bool("access_key_2_active"), r.bool("mfa_active"), "credential report"
		}
	}
	if !found {
		// Some implementations (moto, older partitions) leave the root row out; the
		// account summary has the same two facts.
		sum, err := c.iam().GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
		if err != nil {
			return nil, c.apiError("iam:GetAccountSummary", "", err)
		}
		keys, mfa, source = sum.SummaryMap["AccountAccessKeysPresent"] > 0, sum.SummaryMap["AccountMFAEnabled"] > 0, "account summary"
	}
	resource := "arn:aws:iam::" + account + ":root"
	var out []checks.Finding
	if keys {
		out = append(out, checks.Finding{Resource: resource, Problem: "root_access_keys", Severity: checks.Critical,
			Summary:  fmt.Sprintf("the root user of account %s has active access keys", account),
			Evidence: map[string]string{"source": source},
			Fix:      "sign in as root, delete its access keys (Security credentials page) and use IAM roles or users instead"})
	}
	if !mfa {
		out = append(out, checks.Finding{Resource: resource, Problem: "root_mfa_off", Severity: checks.Critical,
			Summary:  fmt.Sprintf("the root user of account %s has no MFA device", account),
			Evidence: map[string]string{"source": source},
			Fix:      "sign in as root and assign an MFA device (Security credentials page)"})
	}
	return out, nil
}

func (p *Provider) iamKeysOld(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error) {
	account, rows, err := c.accountReport(ctx)
	if err != nil {
		return nil, err
	}
	maxAge, unused := params.Duration("max_age"), params.Duration("unused")
	now := p.now()
	var out []checks.Finding
	for _, r := range rows {
		user := r["user"]
		if user == rootUser {
			continue // aws.iam.root reports root keys
		}
		for _, n := range []string{"1", "2"} {
			if !r.bool("access_key_" + n + "_active") {
				continue
			}
			resource := fmt.Sprintf("arn:aws:iam::%s:user/%s", account, user)
			rotated, okRotated := r.time("access_key_" + n + "_last_rotated")
			if okRotated && now.Sub(rotated) > maxAge {
				out = append(out, checks.Finding{Resource: resource, Problem: "access_key_" + n + "_old", Severity: checks.Medium,
					Summary:  fmt.Sprintf("IAM user %s's access key %s was created %s, more than %s ago", user, n, rotated.UTC().Format(time.DateOnly), human(maxAge)),
					Evidence: map[string]string{"user": user, "key": n, "created": rotated.UTC().Format(time.DateOnly)},
					Fix:      fmt.Sprintf("rotate it: `aws iam create-access-key --user-name %s`, switch the client over, then delete the old key", user)})
			}
			used, okUsed := r.time("access_key_" + n + "_last_used_date")
			switch {
			case okUsed && now.Sub(used) > unused:
				out = append(out, checks.Finding{Resource: resource, Problem: "access_key_" + n + "_unused", Severity: checks.Medium,
					Summary:  fmt.Sprintf("IAM user %s's access key %s was last used %s, more than %s ago", user, n, used.UTC().Format(time.DateOnly), human(unused)),
					Evidence: map[string]string{"user": user, "key": n, "last_used": used.UTC().Format(time.DateOnly)},
					Fix:      fmt.Sprintf("deactivate it: `aws iam update-access-key --user-name %s --access-key-id ID --status Inactive`", user)})
			case !okUsed && okRotated && now.Sub(rotated) > unused:
				out = append(out, checks.Finding{Resource: resource, Problem: "access_key_" + n + "_unused", Severity: checks.Medium,
					Summary:  fmt.Sprintf("IAM user %s's access key %s has never been used since it was created %s", user, n, rotated.UTC().Format(time.DateOnly)),
					Evidence: map[string]string{"user": user, "key": n, "last_used": "never"},
					Fix:      fmt.Sprintf("delete it: `aws iam delete-access-key --user-name %s --access-key-id ID`", user)})
			}
		}
	}
	return out, nil
}

func (p *Provider) iamUsersNoMFA(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error) {
	account, rows, err := c.accountReport(ctx)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, r := range rows {
		user := r["user"]
		if user == rootUser || !r.bool("password_enabled") || r.bool("mfa_active") {
			continue
		}
		out = append(out, checks.Finding{
			Resource: fmt.Sprintf("arn:aws:iam::%s:user/%s", account, user),
			Problem:  "console_without_mfa",
			Severity: checks.High,
			Summary:  fmt.Sprintf("IAM user %s can sign in to the console without MFA", user),
			Evidence: map[string]string{"user": user},
			Fix:      fmt.Sprintf("assign an MFA device to %s, or remove its console password (`aws iam delete-login-profile --user-name %s`)", user, user),
		})
	}
	return out, nil
}

// authorization is the account's IAM users, groups, roles and customer managed
// policies with their documents, as GetAccountAuthorizationDetails returns them.
type authorization struct {
	users    []iamtypes.UserDetail
	groups   []iamtypes.GroupDetail
	roles    []iamtypes.RoleDetail
	policies []iamtypes.ManagedPolicyDetail
}

// authorizationDetails reads every user, group, role and customer managed policy in
// one paginated call, instead of several per principal. AWS managed policies are
// left out: they are named, not read.
func (c *conn) authorizationDetails(ctx context.Context) (authorization, error) {
	return checks.Memo(ctx, c.memoKey("", "authorization-details"), func(ctx context.Context) (authorization, error) {
		pg := iam.NewGetAccountAuthorizationDetailsPaginator(c.iam(), &iam.GetAccountAuthorizationDetailsInput{
			Filter: []iamtypes.EntityType{iamtypes.EntityTypeUser, iamtypes.EntityTypeGroup, iamtypes.EntityTypeRole, iamtypes.EntityTypeLocalManagedPolicy},
		})
		var out authorization
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return authorization{}, c.apiError("iam:GetAccountAuthorizationDetails", "", err)
			}
			out.users = append(out.users, page.UserDetailList...)
			out.groups = append(out.groups, page.GroupDetailList...)
			out.roles = append(out.roles, page.RoleDetailList...)
			out.policies = append(out.policies, page.Policies...)
		}
		return out, nil
	})
}

// accessKeys lists one user's access keys (IAM has no account-wide list).
func (c *conn) accessKeys(ctx context.Context, user string) ([]iamtypes.AccessKeyMetadata, error) {
	return checks.Memo(ctx, c.memoKey("", "access-keys/"+user), func(ctx context.Context) ([]iamtypes.AccessKeyMetadata, error) {
		pg := iam.NewListAccessKeysPaginator(c.iam(), &iam.ListAccessKeysInput{UserName: &user})
		var out []iamtypes.AccessKeyMetadata
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, c.apiError("iam:ListAccessKeys", "", fmt.Errorf("user %s: %w", user, err))
			}
			out = append(out, page.AccessKeyMetadata...)
		}
		return out, nil
	})
}
