package aws

import (
	"context"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/clankerd/clankerd/checks"
)

// Every read below is one paginated describe per resource type per region, shared
// through checks.Memo by every check of the round that needs it.

func (c *conn) ec2(region string) *ec2.Client {
	return ec2.NewFromConfig(c.cfg, func(o *ec2.Options) { o.Region = region })
}

func (c *conn) rds(region string) *rds.Client {
	return rds.NewFromConfig(c.cfg, func(o *rds.Options) { o.Region = region })
}

func (c *conn) elbv2(region string) *elbv2.Client {
	return elbv2.NewFromConfig(c.cfg, func(o *elbv2.Options) { o.Region = region })
}

// paginate drains a paginator, naming the action in its error.
func paginate[T any, O any](ctx context.Context, c *conn, action, region string, more func() bool, next func(context.Context) (O, error), items func(O) []T) ([]T, error) {
	var out []T
	for more() {
		page, err := next(ctx)
		if err != nil {
			return nil, c.apiError(action, region, err)
		}
		out = append(out, items(page)...)
	}
	return out, nil
}

func (c *conn) securityGroups(ctx context.Context, region string) ([]ec2types.SecurityGroup, error) {
	return checks.Memo(ctx, c.memoKey(region, "security-groups"), func(ctx context.Context) ([]ec2types.SecurityGroup, error) {
		pg := ec2.NewDescribeSecurityGroupsPaginator(c.ec2(region), &ec2.DescribeSecurityGroupsInput{MaxResults: awssdk.Int32(1000)})
		return paginate(ctx, c, "ec2:DescribeSecurityGroups", region, pg.HasMorePages,
			func(ctx context.Context) (*ec2.DescribeSecurityGroupsOutput, error) { return pg.NextPage(ctx) },
			func(o *ec2.DescribeSecurityGroupsOutput) []ec2types.SecurityGroup { return o.SecurityGroups })
	})
}

func (c *conn) instances(ctx context.Context, region string) ([]ec2types.Instance, error) {
	return checks.Memo(ctx, c.memoKey(region, "instances"), func(ctx context.Context) ([]ec2types.Instance, error) {
		pg := ec2.NewDescribeInstancesPaginator(c.ec2(region), &ec2.DescribeInstancesInput{MaxResults: awssdk.Int32(1000)})
		return paginate(ctx, c, "ec2:DescribeInstances", region, pg.HasMorePages,
			func(ctx context.Context) (*ec2.DescribeInstancesOutput, error) { return pg.NextPage(ctx) },
			func(o *ec2.DescribeInstancesOutput) []ec2types.Instance {
				var out []ec2types.Instance
				for _, r := range o.Reservations {
					out = append(out, r.Instances...)
				}
				return out
			})
	})
}

func (c *conn) volumes(ctx context.Context, region string) ([]ec2types.Volume, error) {
	return checks.Memo(ctx, c.memoKey(region, "volumes"), func(ctx context.Context) ([]ec2types.Volume, error) {
		pg := ec2.NewDescribeVolumesPaginator(c.ec2(region), &ec2.DescribeVolumesInput{MaxResults: awssdk.Int32(1000)})
		return paginate(ctx, c, "ec2:DescribeVolumes", region, pg.HasMorePages,
			func(ctx context.Context) (*ec2.DescribeVolumesOutput, error) { return pg.NextPage(ctx) },
			func(o *ec2.DescribeVolumesOutput) []ec2types.Volume { return o.Volumes })
	})
}

// addresses reads the Elastic IPs (DescribeAddresses is not paginated).
func (c *conn) addresses(ctx context.Context, region string) ([]ec2types.Address, error) {
	return checks.Memo(ctx, c.memoKey(region, "addresses"), func(ctx context.Context) ([]ec2types.Address, error) {
		out, err := c.ec2(region).DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
		if err != nil {
			return nil, c.apiError("ec2:DescribeAddresses", region, err)
		}
		return out.Addresses, nil
	})
}

func (c *conn) dbInstances(ctx context.Context, region string) ([]rdstypes.DBInstance, error) {
	return checks.Memo(ctx, c.memoKey(region, "db-instances"), func(ctx context.Context) ([]rdstypes.DBInstance, error) {
		pg := rds.NewDescribeDBInstancesPaginator(c.rds(region), &rds.DescribeDBInstancesInput{})
		return paginate(ctx, c, "rds:DescribeDBInstances", region, pg.HasMorePages,
			func(ctx context.Context) (*rds.DescribeDBInstancesOutput, error) { return pg.NextPage(ctx) },
			func(o *rds.DescribeDBInstancesOutput) []rdstypes.DBInstance { return o.DBInstances })
	})
}

func (c *conn) loadBalancers(ctx context.Context, region string) ([]elbtypes.LoadBalancer, error) {
	return checks.Memo(ctx, c.memoKey(region, "load-balancers"), func(ctx context.Context) ([]elbtypes.LoadBalancer, error) {
		pg := elbv2.NewDescribeLoadBalancersPaginator(c.elbv2(region), &elbv2.DescribeLoadBalancersInput{})
		return paginate(ctx, c, "elasticloadbalancing:DescribeLoadBalancers", region, pg.HasMorePages,
			func(ctx context.Context) (*elbv2.DescribeLoadBalancersOutput, error) { return pg.NextPage(ctx) },
			func(o *elbv2.DescribeLoadBalancersOutput) []elbtypes.LoadBalancer { return o.LoadBalancers })
	})
}

// ec2Tags turns EC2 tags into a map.
func ec2Tags(tags []ec2types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	return m
}

// nameOf is the Name tag, for summaries.
func nameOf(tags []ec2types.Tag) string { return ec2Tags(tags)["Name"] }

func (c *conn) vpcs(ctx context.Context, region string) ([]ec2types.Vpc, error) {
	return checks.Memo(ctx, c.memoKey(region, "vpcs"), func(ctx context.Context) ([]ec2types.Vpc, error) {
		pg := ec2.NewDescribeVpcsPaginator(c.ec2(region), &ec2.DescribeVpcsInput{MaxResults: awssdk.Int32(1000)})
		return paginate(ctx, c, "ec2:DescribeVpcs", region, pg.HasMorePages,
			func(ctx context.Context) (*ec2.DescribeVpcsOutput, error) { return pg.NextPage(ctx) },
			func(o *ec2.DescribeVpcsOutput) []ec2types.Vpc { return o.Vpcs })
	})
}

// listeners reads one load balancer's listeners (DescribeListeners takes one load
// balancer at a time).
func (c *conn) listeners(ctx context.Context, region, lbARN string) ([]elbtypes.Listener, error) {
	return checks.Memo(ctx, c.memoKey(region, "listeners/"+lbARN), func(ctx context.Context) ([]elbtypes.Listener, error) {
		pg := elbv2.NewDescribeListenersPaginator(c.elbv2(region), &elbv2.DescribeListenersInput{LoadBalancerArn: &lbARN})
		return paginate(ctx, c, "elasticloadbalancing:DescribeListeners", region, pg.HasMorePages,
			func(ctx context.Context) (*elbv2.DescribeListenersOutput, error) { return pg.NextPage(ctx) },
			func(o *elbv2.DescribeListenersOutput) []elbtypes.Listener { return o.Listeners })
	})
}
