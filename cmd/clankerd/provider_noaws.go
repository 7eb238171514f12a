//go:build clankerd_noaws

package main

// awsProvider links nothing: this build has no AWS checks or tasks.
func awsProvider(providerOptions) provider { return nil }
