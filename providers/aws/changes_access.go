package aws

import (
	"context"
	"fmt"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/clankerd/clankerd/checks"
)

// accessFacts is aws.changes.access: who may do what in the account. Users: access
// keys, console password, groups, policies. Groups: policies. Roles: policies and
// who may assume them.
func (p *Provider) accessFacts(ctx context.Context, c *conn, params checks.Params) ([]checks.Fact, error) {
	account, err := c.accountID(ctx)
	if err != nil {
		return nil, err
	}
	auth, err := c.authorizationDetails(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.credentialReport(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := c.usersKeys(ctx, auth.users)
	if err != nil {
		return nil, err
	}
	pol, err := newPolicyBook(auth.policies)
	if err != nil {
		return nil, err
	}
	password := map[string]bool{}
	for _, r := range rows {
		password[r["user"]] = r.bool("password_enabled")
	}

	var out []checks.Fact
	groupSeverity := map[string]checks.Severity{}
	for _, g := range auth.groups {
		name, arn := awssdk.ToString(g.GroupName), awssdk.ToString(g.Arn)
		fs, err := pol.facts("group "+name, arn, g.AttachedManagedPolicies, g.GroupPolicyList)
		if err != nil {
			return nil, err
		}
		groupSeverity[name] = highest(fs)
		out = append(out, fs...)
	}
	for i, u := range auth.users {
		name, arn := awssdk.ToString(u.UserName), awssdk.ToString(u.Arn)
		fs, err := pol.facts("user "+name, arn, u.AttachedManagedPolicies, u.UserPolicyList)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
		for _, k := range keys[i] {
			id := awssdk.ToString(k.AccessKeyId)
			f := checks.Fact{Resource: arn, Key: "access key " + id + " " + strings.ToLower(string(k.Status)), Severity: checks.Medium,
				Summary: fmt.Sprintf("IAM user %s has %s access key %s", name, strings.ToLower(string(k.Status)), id),
				Fix:     fmt.Sprintf("if the key is not wanted: `aws iam delete-access-key --user-name %s --access-key-id %s`", name, id)}
			if k.Status != iamtypes.StatusTypeActive {
				f.Severity = checks.Low
			}
			out = append(out, f)
		}
		if password[name] {
			out = append(out, checks.Fact{Resource: arn, Key: "console password", Severity: checks.Medium,
				Summary: fmt.Sprintf("IAM user %s can sign in to the console", name),
				Fix:     fmt.Sprintf("if it should not: `aws iam delete-login-profile --user-name %s`", name)})
		}
		for _, g := range u.GroupList {
			sev := groupSeverity[g]
			if sev.Rank() < checks.Low.Rank() {
				sev = checks.Low
			}
			out = append(out, checks.Fact{Resource: arn, Key: "member of group " + g, Severity: sev,
				Summary: fmt.Sprintf("IAM user %s is a member of group %s", name, g),
				Fix:     fmt.Sprintf("if it should not be: `aws iam remove-user-from-group --user-name %s --group-name %s`", name, g)})
		}
	}
	for _, r := range auth.roles {
		name, arn := awssdk.ToString(r.RoleName), awssdk.ToString(r.Arn)
		fs, err := pol.facts("role "+name, arn, r.AttachedManagedPolicies, r.RolePolicyList)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
		trust, err := trustFacts(account, name, arn, awssdk.ToString(r.AssumeRolePolicyDocument))
		if err != nil {
			return nil, err
		}
		out = append(out, trust...)
	}
	return out, nil
}

// usersKeys reads every user's access keys, eight users at a time; the result is in
// the order of users.
func (c *conn) usersKeys(ctx context.Context, users []iamtypes.UserDetail) ([][]iamtypes.AccessKeyMetadata, error) {
	return fanOut(users, 8, func(u iamtypes.UserDetail) ([]iamtypes.AccessKeyMetadata, error) {
		return c.accessKeys(ctx, awssdk.ToString(u.UserName))
	})
}

// policyBook holds the documents of the account's customer managed policies (their
// default versions), by ARN.
type policyBook map[string][]statement

func newPolicyBook(policies []iamtypes.ManagedPolicyDetail) (policyBook, error) {
	book := policyBook{}
	for _, p := range policies {
		for _, v := range p.PolicyVersionList {
			if !v.IsDefaultVersion {
				continue
			}
			stmts, err := parsePolicy(awssdk.ToString(v.Document))
			if err != nil {
				return nil, fmt.Errorf("policy %s: %w", awssdk.ToString(p.Arn), err)
			}
			book[awssdk.ToString(p.Arn)] = stmts
		}
	}
	return book, nil
}

// facts are a principal's attached and inline policies. An AWS managed policy is
// named by its ARN and ranked by name; a customer managed or inline policy also
// carries what it allows and a digest of its document, so any change to the document
// is a new fact on everyone it is attached to.
func (b policyBook) facts(who, resource string, attached []iamtypes.AttachedPolicy, inline []iamtypes.PolicyDetail) ([]checks.Fact, error) {
	var out []checks.Fact
	for _, a := range attached {
		arn := awssdk.ToString(a.PolicyArn)
		f := checks.Fact{Resource: resource, Key: "attached policy " + arn, Severity: managedSeverity(arn),
			Fix: fmt.Sprintf("if %s should not have it, detach policy %s", who, awssdk.ToString(a.PolicyName))}
		if stmts, ok := b[arn]; ok {
			f.Key += ": allows " + allowedActions(stmts) + " (document " + documentDigest(stmts) + ")"
			f.Severity = policySeverity(stmts)
		}
		f.Summary = fmt.Sprintf("%s has %s", who, f.Key)
		out = append(out, f)
	}
	for _, p := range inline {
		name := awssdk.ToString(p.PolicyName)
		stmts, err := parsePolicy(awssdk.ToString(p.PolicyDocument))
		if err != nil {
			return nil, fmt.Errorf("inline policy %s of %s: %w", name, who, err)
		}
		key := "inline policy " + name + ": allows " + allowedActions(stmts) + " (document " + documentDigest(stmts) + ")"
		out = append(out, checks.Fact{Resource: resource, Key: key, Severity: policySeverity(stmts),
			Summary: fmt.Sprintf("%s has %s", who, key),
			Fix:     fmt.Sprintf("if %s should not have it, delete inline policy %s", who, name)})
	}
	return out, nil
}

// trustFacts are the principals a role's trust policy lets assume it, one fact
// each, with the statement's conditions in the key (a dropped condition is a
// widening). Everyone is critical (high with a condition), another account high, a
// federated identity provider medium, the role's own account and AWS services low.
func trustFacts(account, role, resource, doc string) ([]checks.Fact, error) {
	stmts, err := parsePolicy(doc)
	if err != nil {
		return nil, fmt.Errorf("trust policy of role %s: %w", role, err)
	}
	var out []checks.Fact
	for _, s := range stmts {
		if s.effect != "Allow" {
			continue
		}
		for _, p := range s.principals {
			key := "trusts " + p.String()
			sev := trustSeverity(account, p)
			if s.notPrin {
				key, sev = "trusts all but "+p.String(), checks.Critical
			}
			if len(s.conditions) > 0 {
				key += " if " + strings.Join(s.conditions, "; ")
				if sev == checks.Critical {
					sev = checks.High
				}
			}
			out = append(out, checks.Fact{Resource: resource, Key: key, Severity: sev,
				Summary: fmt.Sprintf("role %s %s", role, key),
				Fix:     fmt.Sprintf("if it should not, remove the principal from the trust policy: `aws iam update-assume-role-policy --role-name %s --policy-document file://trust.json`", role)})
		}
	}
	return out, nil
}

func trustSeverity(account string, p principal) checks.Severity {
	switch {
	case p.public():
		return checks.Critical
	case p.kind == "Service":
		return checks.Low
	case p.kind == "Federated":
		return checks.Medium
	case p.kind == "AWS" && principalAccount(p.id) == account:
		return checks.Low
	case p.kind == "AWS":
		return checks.High
	}
	return checks.Medium
}

// principalAccount is the account of an AWS principal: "123456789012" or the
// fifth field of its ARN; "" for a unique id (a deleted principal).
func principalAccount(id string) string {
	if len(id) == 12 && strings.Trim(id, "0123456789") == "" {
		return id
	}
	parts := strings.Split(id, ":")
	if len(parts) >= 5 && parts[0] == "arn" {
		return parts[4]
	}
	return ""
}

// highest is the highest severity among facts, "" for none.
func highest(fs []checks.Fact) checks.Severity {
	var sev checks.Severity
	for _, f := range fs {
		if f.Severity.Rank() > sev.Rank() {
			sev = f.Severity
		}
	}
	return sev
}
