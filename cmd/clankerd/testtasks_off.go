//go:build !clankerd_testtasks

package main

import "github.com/clankerd/clankerd/checks"

// registerTestTasks adds nothing: test tasks exist only in clankerd_testtasks builds.
func registerTestTasks(*checks.Registry) error { return nil }
