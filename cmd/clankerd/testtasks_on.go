//go:build clankerd_testtasks

package main

import (
	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/route"
	"github.com/clankerd/clankerd/internal/testenv/filetask"
)

// registerTestTasks adds the tasks the end-to-end tests drive plans with.
func registerTestTasks(r *checks.Registry) error { return r.AddTask(filetask.SetContent{}) }

// testRouteProviders let questions reach the test tasks (`clankerd ask "set the test
// file path=… content=…"`).
func testRouteProviders() []route.Provider { return []route.Provider{filetask.SetContent{}} }
