//go:build !clankerd_testtasks

package main

import (
	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/route"
)

// registerTestTasks adds nothing: test tasks exist only in clankerd_testtasks builds.
func registerTestTasks(*checks.Registry) error { return nil }

// testRouteProviders are none: test tasks exist only in clankerd_testtasks builds.
func testRouteProviders() []route.Provider { return nil }
