//go:build !clankerd_noaws

package main

import awsprovider "github.com/clankerd/clankerd/providers/aws"

// awsProvider links the AWS provider; build with -tags clankerd_noaws to leave it
// (and the AWS SDK) out.
func awsProvider(o providerOptions) provider {
	return awsprovider.New(awsprovider.Options{Logger: o.Logger})
}
