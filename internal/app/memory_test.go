package app

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestKeepHeapNearLive(t *testing.T) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		t.Skip("GOMEMLIMIT is set, which KeepHeapNearLive leaves alone")
	}
	before := debug.SetMemoryLimit(-1)
	stop := KeepHeapNearLive()
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) == before {
		if time.Now().After(deadline) {
			t.Fatal("no memory limit set after collections")
		}
		runtime.GC()
		runtime.Gosched()
	}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	if limit := debug.SetMemoryLimit(-1); limit < int64(live[0].Value.Uint64())+minHeadroom {
		t.Errorf("limit %d leaves less than %d above the live heap %d: collections would come back to back", limit, minHeadroom, live[0].Value.Uint64())
	}
	stop()
	runtime.GC()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("after stop the limit is %d, want %d back", got, before)
	}
	stop() // twice is fine
}

func TestKeepHeapNearLiveLeavesGOMEMLIMIT(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	stop := KeepHeapNearLive()
	defer stop()
	for range 3 {
		runtime.GC()
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set the limit moved from %d to %d", before, got)
	}
}
