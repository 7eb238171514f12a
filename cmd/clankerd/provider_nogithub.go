//go:build clankerd_nogithub

package main

// githubProvider links nothing: this build has no GitHub checks or tasks.
func githubProvider(providerOptions) provider { return nil }
