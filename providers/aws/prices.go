package aws

import "fmt"

// PriceDate is when the embedded price table was taken from AWS's public on-demand
// price list (Linux, shared tenancy, us-east-1). The Pricing API is not reachable from
// every network, so estimates use this table; treat them as estimates.
const PriceDate = "2025-06"

// hoursPerMonth is AWS's own convention for monthly estimates.
const hoursPerMonth = 730

// instanceHourly is the on-demand USD price per hour in us-east-1.
var instanceHourly = map[string]float64{
	"t2.micro": 0.0116, "t2.small": 0.023, "t2.medium": 0.0464, "t2.large": 0.0928, "t2.xlarge": 0.1856,
	"t3.nano": 0.0052, "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832, "t3.xlarge": 0.1664, "t3.2xlarge": 0.3328,
	"t3a.micro": 0.0094, "t3a.small": 0.0188, "t3a.medium": 0.0376, "t3a.large": 0.0752,
	"t4g.micro": 0.0084, "t4g.small": 0.0168, "t4g.medium": 0.0336, "t4g.large": 0.0672,
	"m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384, "m5.4xlarge": 0.768, "m5.8xlarge": 1.536,
	"m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384, "m6i.4xlarge": 0.768,
	"m6g.large": 0.077, "m6g.xlarge": 0.154, "m7i.large": 0.1008, "m7i.xlarge": 0.2016, "m7g.large": 0.0816,
	"c5.large": 0.085, "c5.xlarge": 0.17, "c5.2xlarge": 0.34, "c5.4xlarge": 0.68,
	"c6i.large": 0.085, "c6i.xlarge": 0.17, "c6i.2xlarge": 0.34, "c6g.large": 0.068, "c7g.large": 0.0725,
	"r5.large": 0.126, "r5.xlarge": 0.252, "r5.2xlarge": 0.504, "r6i.large": 0.126, "r6i.xlarge": 0.252, "r6g.large": 0.1008,
}

// regionFactor scales us-east-1 prices to other regions (their m5.large price over
// us-east-1's).
var regionFactor = map[string]float64{
	"us-east-1": 1, "us-east-2": 1, "us-west-2": 1, "us-west-1": 1.167,
	"ca-central-1": 1.115, "eu-west-1": 1.115, "eu-west-2": 1.156, "eu-central-1": 1.198, "eu-north-1": 1.063,
	"ap-southeast-1": 1.25, "ap-southeast-2": 1.25, "ap-northeast-1": 1.292, "ap-south-1": 1.052, "sa-east-1": 1.594,
}

// volumeGBMonth is the EBS price per GB-month in us-east-1 by volume type.
var volumeGBMonth = map[string]float64{
	"gp3": 0.08, "gp2": 0.10, "io1": 0.125, "io2": 0.125, "st1": 0.045, "sc1": 0.015, "standard": 0.05,
}

// eipHourly is the price of a public IPv4 address (an Elastic IP, associated or not).
const eipHourly = 0.005

// instanceMonthly estimates an instance type's monthly on-demand price in a region.
func instanceMonthly(instanceType, region string) (float64, error) {
	h, ok := instanceHourly[instanceType]
	if !ok {
		return 0, fmt.Errorf("no price for instance type %s in the embedded table (%s)", instanceType, PriceDate)
	}
	f, err := factor(region)
	return h * hoursPerMonth * f, err
}

// volumeMonthly estimates an EBS volume's monthly price.
func volumeMonthly(volumeType string, sizeGiB int32, region string) (float64, error) {
	p, ok := volumeGBMonth[volumeType]
	if !ok {
		return 0, fmt.Errorf("no price for volume type %s in the embedded table (%s)", volumeType, PriceDate)
	}
	f, err := factor(region)
	return p * float64(sizeGiB) * f, err
}

func eipMonthly(region string) (float64, error) {
	f, err := factor(region)
	return eipHourly * hoursPerMonth * f, err
}

func factor(region string) (float64, error) {
	f, ok := regionFactor[region]
	if !ok {
		return 0, fmt.Errorf("no prices for region %s in the embedded table (%s)", region, PriceDate)
	}
	return f, nil
}

// round2 rounds to cents.
func round2(v float64) float64 {
	if v < 0 {
		return -round2(-v)
	}
	return float64(int64(v*100+0.5)) / 100
}
