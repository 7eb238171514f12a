//go:build clankerd_testtasks

package main

import (
	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/filetask"
)

// registerTestTasks adds the tasks the end-to-end tests drive plans with.
func registerTestTasks(r *checks.Registry) error { return r.AddTask(filetask.SetContent{}) }
