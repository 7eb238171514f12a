//go:build !clankerd_nogithub

package main

import githubprovider "github.com/clankerd/clankerd/providers/github"

// githubProvider links the GitHub provider; build with -tags clankerd_nogithub to
// leave it (and go-github) out.
func githubProvider(o providerOptions) provider {
	return githubprovider.New(githubprovider.Options{Logger: o.Logger})
}
