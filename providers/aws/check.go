package aws

import (
	"context"

	"github.com/clankerd/clankerd/checks"
)

// checkList is the catalog of AWS checks; their ids are the contract.
func (p *Provider) checkList() []checks.Check {
	type look = func(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error)
	type facts = func(ctx context.Context, c *conn, params checks.Params) ([]checks.Fact, error)
	defs := []struct {
		spec checks.Spec
		look look
	}{
		{spec("aws.ec2.sg.open", "security group rules open to 0.0.0.0/0 or ::/0 on ports that are not allowed", checks.CategoryExposure, true,
			[]string{"security group", "security groups", "sg", "firewall", "open", "ports", "open ports", "ssh", "rdp", "ingress", "exposed", "public"},
			checks.ParamSpec{Name: "allow", Type: checks.List, Default: "80,443", Validate: validatePorts, Doc: "ports that may be open to the internet"}),
			p.regional(p.sgOpen)},
		{spec("aws.s3.public", "S3 buckets public through their ACL or policy, and missing bucket or account public access blocks", checks.CategoryExposure, false,
			[]string{"s3", "bucket", "buckets", "public", "exposed", "acl", "policy", "storage"}),
			p.s3Public},
		{spec("aws.iam.root", "root account with access keys or without MFA", checks.CategoryAccess, false,
			[]string{"root", "root account", "root user", "root access keys", "root mfa", "mfa", "iam"}),
			p.iamRoot},
		{spec("aws.iam.keys.old", "IAM access keys older than max_age or unused for longer than unused", checks.CategoryAccess, false,
			[]string{"access keys", "keys", "iam", "rotation", "old keys", "credentials", "unused"},
			checks.ParamSpec{Name: "max_age", Type: checks.Duration, Default: "90d", Doc: "report active keys created longer ago than this"},
			checks.ParamSpec{Name: "unused", Type: checks.Duration, Default: "90d", Doc: "report active keys not used for this long"}),
			p.iamKeysOld},
		{spec("aws.iam.users.nomfa", "IAM users with a console password and no MFA", checks.CategoryAccess, false,
			[]string{"mfa", "users", "iam", "console", "2fa", "password"}),
			p.iamUsersNoMFA},
		{spec("aws.ec2.volumes.unattached", "EBS volumes attached to nothing, with their monthly cost", checks.CategoryWaste, true,
			[]string{"volumes", "ebs", "unattached", "disk", "disks", "waste", "idle", "orphaned"}),
			p.regional(p.volumesUnattached)},
		{spec("aws.ec2.eip.unassociated", "Elastic IPs associated with nothing, with their monthly cost", checks.CategoryWaste, true,
			[]string{"elastic ip", "elastic ips", "eip", "eips", "ip addresses", "unassociated", "waste", "idle"}),
			p.regional(p.eipUnassociated)},
		{spec("aws.ec2.instances.stopped", "instances stopped for longer than for=, whose volumes still cost money", checks.CategoryWaste, true,
			[]string{"instances", "ec2", "stopped", "idle", "waste", "servers"},
			checks.ParamSpec{Name: "for", Type: checks.Duration, Default: "7d", Doc: "report instances stopped for longer than this"}),
			p.regional(p.instancesStopped)},
		{spec("aws.rds.public", "RDS DB instances that are publicly accessible", checks.CategoryExposure, true,
			[]string{"rds", "database", "databases", "db", "public", "exposed"}),
			p.regional(p.rdsPublic)},
		{spec("aws.elb.public", "internet-facing load balancers (information: an inventory of exposure)", checks.CategoryExposure, true,
			[]string{"load balancer", "load balancers", "elb", "alb", "nlb", "internet-facing", "public", "exposure"}),
			p.regional(p.elbPublic)},
		{spec("aws.tags.missing", "resources missing required tags, optionally only those costing at least min_cost a month", checks.CategoryCost, true,
			[]string{"tags", "untagged", "untagged resources", "tagging", "owner", "resources", "cost", "cost allocation"},
			checks.ParamSpec{Name: "tags", Type: checks.List, Default: "owner", Doc: "tags every resource must have"},
			checks.ParamSpec{Name: "types", Type: checks.List, Default: "instance,volume,elastic-ip,db", Choices: tagTypes, Doc: "resource types to look at"},
			checks.ParamSpec{Name: "min_cost", Type: checks.Float, Default: "0", Doc: "only resources whose estimated monthly cost in USD is at least this (resources without a known price are left out)"}),
			p.regional(p.tagsMissing)},
		{spec("aws.cost.increase", "services whose cost over the last window rose by more than the threshold against the window before (Cost Explorer)", checks.CategoryCost, false,
			[]string{"cost", "costs", "bill", "billing", "spend", "spending", "increase", "jump", "expensive", "go up", "went up", "gone up"},
			checks.ParamSpec{Name: "window", Type: checks.Duration, Default: "7d", Doc: "compare the last window with the one before it (whole days)"},
			checks.ParamSpec{Name: "threshold", Type: checks.List, Default: "20%,10", Validate: validateThreshold, Doc: "report rises above this percentage and/or USD amount (20%, 50, or 20%,50 for both)"}),
			p.costIncrease},
		{spec("aws.cost.anomalies", "cost anomalies found by AWS Cost Anomaly Detection (skipped where it has no monitor)", checks.CategoryCost, false,
			[]string{"anomaly", "anomalies", "cost", "bill", "spike", "unusual"},
			checks.ParamSpec{Name: "window", Type: checks.Duration, Default: "7d", Doc: "anomalies from this long ago"},
			checks.ParamSpec{Name: "min_impact", Type: checks.Float, Default: "0", Doc: "only anomalies with at least this total impact in USD"}),
			p.costAnomalies},
		{spec("aws.cost.forecast", "this month's forecast cost over budget (Cost Explorer)", checks.CategoryCost, false,
			[]string{"forecast", "budget", "cost", "bill", "end of month", "projected"},
			checks.ParamSpec{Name: "budget", Type: checks.Float, Required: true, Doc: "monthly budget in USD"}),
			p.costForecast},
	}
	// The change-tracking checks report facts, which the store compares with the
	// item's baseline (checks.Track). Their words are about change in AWS, so that
	// "access keys older than 90 days" stays with aws.iam.keys.old and "what changed
	// in rbac?" with Kubernetes.
	changeWords := func() []string {
		return []string{"what changed in aws", "what changed in the account", "changed in aws", "changes in aws", "aws changes", "account changes", "drift", "baseline"}
	}
	tracks := []struct {
		spec  checks.Spec
		facts facts
	}{
		{tracking("aws.changes.exposure", "changes since the baseline in what is reachable from outside: security-group ingress from outside the VPC, S3 ACLs, policies and public access blocks, public RDS instances, internet-facing load balancer listeners", checks.CategoryExposure, true,
			append(changeWords(), "new endpoints", "newly exposed", "newly public", "security group changes", "sg changes",
				"exposure changes", "changes in exposure", "opened to")),
			p.exposureFacts},
		{tracking("aws.changes.access", "changes since the baseline in who may do what: IAM users, access keys, console passwords, group memberships, the policies of users, groups and roles, role trust policies", checks.CategoryAccess, false,
			append(changeWords(), "new access keys", "new access key", "new keys", "iam changes",
				"access changes", "gained", "trust policy", "trust policies", "new users", "new roles")),
			p.accessFacts},
	}
	out := make([]checks.Check, 0, len(defs)+len(tracks))
	for _, d := range defs {
		out = append(out, &check{spec: d.spec, p: p, look: d.look})
	}
	for _, d := range tracks {
		out = append(out, &check{spec: d.spec, p: p, facts: d.facts})
	}
	return out
}
