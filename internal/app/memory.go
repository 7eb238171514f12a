package app

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// minHeadroom is the least heap a one-shot command may allocate past its live data
// before the next collection: about two pages of pods in flight. Measured at 10,000
// pods, paired against no limit (peak 105 MiB): 12 MiB holds the peak at 92 MiB for
// 1.19x the CPU; 8 MiB at 86 MiB for 1.36x, which the wall time felt.
const minHeadroom = 12 << 20

// KeepHeapNearLive holds a one-shot command's heap close to its live data. The
// default GC lets the heap grow to twice what survived the last collection before
// the next; while a check's lists accumulate (10,000 pods are about 30 MiB live),
// that doubling is most of the peak. After each collection it sets the soft memory
// limit to the memory in use with the heap counted as the live data plus headroom
// (a quarter of it, at least minHeadroom), so collections come a little more often and never
// back to back: the limit always leaves room above the live heap. It does nothing
// when GOMEMLIMIT is set. stop restores the limit it found.
func KeepHeapNearLive() (stop func()) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return func() {}
	}
	before := debug.SetMemoryLimit(-1)
	var mu sync.Mutex // a collection's update and stop do not interleave
	stopped := false
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	var afterGC func()
	afterGC = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		metrics.Read(samples)
		live, total, released, objects, free := samples[0].Value.Uint64(), samples[1].Value.Uint64(),
			samples[2].Value.Uint64(), samples[3].Value.Uint64(), samples[4].Value.Uint64()
		overhead := total - released - objects - free // runtime metadata, stacks, fragmentation
		limit := overhead + live + max(minHeadroom, live/4)
		if limit < math.MaxInt64 {
			debug.SetMemoryLimit(int64(limit))
		}
		onNextGC(afterGC)
	}
	onNextGC(afterGC)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			stopped = true
			debug.SetMemoryLimit(before)
		}
	}
}

// onNextGC calls f on the finalizer goroutine after the next collection: a fresh
// object, unreachable at once, is finalized by the first collection that finds it.
func onNextGC(f func()) {
	sentinel := new([32]byte) // not a tiny allocation, whose finalizer may never run
	runtime.SetFinalizer(sentinel, func(*[32]byte) { f() })
}
