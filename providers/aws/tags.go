package aws

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/clankerd/clankerd/checks"
)

// taggable is one resource the tag check looks at.
type taggable struct {
	resource, kind, id string
	tags               map[string]string
	// monthly is the estimated monthly cost; known is false when there is no price.
	monthly float64
	known   bool
}

// tagTypes are the resource types aws.tags.missing reads, each through the describe
// call other checks share (the tagging API does not list untagged resources).
var tagTypes = []string{"instance", "volume", "elastic-ip", "security-group", "db"}

func (p *Provider) tagsMissing(ctx context.Context, c *conn, region string, params checks.Params) ([]checks.Finding, error) {
	want := params.List("tags")
	types := params.List("types")
	minCost := params.Float("min_cost")
	var all []taggable
	if slices.Contains(types, "instance") {
		insts, err := c.instances(ctx, region)
		if err != nil {
			return nil, err
		}
		for _, i := range insts {
			if i.State != nil && i.State.Name == ec2types.InstanceStateNameTerminated {
				continue
			}
			t := taggable{resource: res("instance", region, awssdk.ToString(i.InstanceId)), kind: "instance", id: awssdk.ToString(i.InstanceId), tags: ec2Tags(i.Tags)}
			if i.State != nil && i.State.Name == ec2types.InstanceStateNameRunning {
				if m, err := instanceMonthly(string(i.InstanceType), region); err == nil {
					t.monthly, t.known = m, true
				}
			} else {
				t.known = true // a stopped instance costs through its volumes
			}
			all = append(all, t)
		}
	}
	if slices.Contains(types, "volume") {
		vols, err := c.volumes(ctx, region)
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			t := taggable{resource: res("volume", region, awssdk.ToString(v.VolumeId)), kind: "volume", id: awssdk.ToString(v.VolumeId), tags: ec2Tags(v.Tags)}
			if m, err := volumeMonthly(string(v.VolumeType), awssdk.ToInt32(v.Size), region); err == nil {
				t.monthly, t.known = m, true
			}
			all = append(all, t)
		}
	}
	if slices.Contains(types, "elastic-ip") {
		addrs, err := c.addresses(ctx, region)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			t := taggable{resource: res("elastic-ip", region, awssdk.ToString(a.AllocationId)), kind: "elastic-ip", id: awssdk.ToString(a.AllocationId), tags: ec2Tags(a.Tags)}
			if m, err := eipMonthly(region); err == nil {
				t.monthly, t.known = m, true
			}
			all = append(all, t)
		}
	}
	if slices.Contains(types, "security-group") {
		groups, err := c.securityGroups(ctx, region)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if awssdk.ToString(g.GroupName) == "default" {
				continue // every VPC has one; it cannot be deleted
			}
			all = append(all, taggable{resource: res("security-group", region, awssdk.ToString(g.GroupId)), kind: "security-group", id: awssdk.ToString(g.GroupId), tags: ec2Tags(g.Tags), known: true})
		}
	}
	if slices.Contains(types, "db") {
		dbs, err := c.dbInstances(ctx, region)
		if err != nil {
			return nil, err
		}
		for _, db := range dbs {
			tags := map[string]string{}
			for _, t := range db.TagList {
				tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
			}
			all = append(all, taggable{resource: awssdk.ToString(db.DBInstanceArn), kind: "db", id: awssdk.ToString(db.DBInstanceIdentifier), tags: tags})
		}
	}
	var out []checks.Finding
	for _, t := range all {
		var missing []string
		for _, k := range want {
			if strings.TrimSpace(t.tags[k]) == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			continue
		}
		if minCost > 0 && (!t.known || t.monthly < minCost) {
			continue
		}
		sort.Strings(missing)
		f := checks.Finding{
			Resource: t.resource,
			Problem:  "missing_tags",
			Severity: checks.Low,
			Summary:  fmt.Sprintf("%s %s has no %s tag", t.kind, t.id, strings.Join(missing, ", ")),
			Evidence: map[string]string{"missing": strings.Join(missing, ","), "region": region},
			Fix:      fmt.Sprintf("`aws ec2 create-tags --region %s --resources %s --tags Key=%s,Value=...` (or tag it in its stack)", region, t.id, missing[0]),
		}
		if t.kind == "db" {
			f.Fix = fmt.Sprintf("`aws rds add-tags-to-resource --region %s --resource-name %s --tags Key=%s,Value=...`", region, t.resource, missing[0])
		}
		if t.known && t.monthly > 0 {
			f.MonthlyCostUSD = money(round2(t.monthly))
		}
		out = append(out, f)
	}
	return out, nil
}
