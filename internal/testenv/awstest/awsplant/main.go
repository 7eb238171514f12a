// Command awsplant fills a moto_server with resources for the AWS benchmark, and reads
// them back the way a minimal scanner would (the benchmark's baseline).
//
//	awsplant load ENDPOINT GROUPS BUCKETS INSTANCES
//	awsplant describe ENDPOINT
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: awsplant load ENDPOINT GROUPS BUCKETS INSTANCES | awsplant describe ENDPOINT")
		os.Exit(2)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithBaseEndpoint(os.Args[2]), config.WithRegion("us-east-1"), config.WithRetryMaxAttempts(1))
	if err != nil {
		fail(err)
	}
	ec := ec2.NewFromConfig(cfg)
	s := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	switch os.Args[1] {
	case "load":
		groups, buckets, instances := atoi(os.Args[3]), atoi(os.Args[4]), atoi(os.Args[5])
		parallel(groups, func(i int) error {
			sg, err := ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String(fmt.Sprintf("sg-bench-%d", i)), Description: awssdk.String("bench")})
			if err != nil {
				return err
			}
			port := int32(22)
			if i%10 != 0 {
				port = 443 // one group in ten is open on SSH
			}
			_, err = ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{
				{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(port), ToPort: awssdk.Int32(port), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}}})
			return err
		})
		parallel(buckets, func(i int) error {
			name := fmt.Sprintf("bench-bucket-%04d", i)
			if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
				return err
			}
			if i%25 == 0 {
				_, err := s.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &name, ACL: s3types.BucketCannedACLPublicRead})
				return err
			}
			return nil
		})
		for left := instances; left > 0; left -= 500 {
			n := int32(min(500, left))
			if _, err := ec.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: awssdk.String("ami-12345678"), InstanceType: ec2types.InstanceTypeT3Micro, MinCount: &n, MaxCount: &n}); err != nil {
				fail(err)
			}
		}
	case "describe":
		// One paginated describe per type, what any scanner must read at least.
		n := 0
		for pg := ec2.NewDescribeSecurityGroupsPaginator(ec, &ec2.DescribeSecurityGroupsInput{MaxResults: awssdk.Int32(1000)}); pg.HasMorePages(); {
			out, err := pg.NextPage(ctx)
			if err != nil {
				fail(err)
			}
			n += len(out.SecurityGroups)
		}
		for pg := ec2.NewDescribeInstancesPaginator(ec, &ec2.DescribeInstancesInput{MaxResults: awssdk.Int32(1000)}); pg.HasMorePages(); {
			out, err := pg.NextPage(ctx)
			if err != nil {
				fail(err)
			}
			n += len(out.Reservations)
		}
		for pg := ec2.NewDescribeVolumesPaginator(ec, &ec2.DescribeVolumesInput{MaxResults: awssdk.Int32(1000)}); pg.HasMorePages(); {
			out, err := pg.NextPage(ctx)
			if err != nil {
				fail(err)
			}
			n += len(out.Volumes)
		}
		list, err := s.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			fail(err)
		}
		n += len(list.Buckets)
		fmt.Println(n, "objects")
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

// parallel runs fn for 0..n-1, eight at a time.
func parallel(n int, fn func(i int) error) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail(err)
	}
	return n
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "awsplant:", err)
	os.Exit(1)
}
