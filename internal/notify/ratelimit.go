package notify

import "time"

// limiter is a token bucket: N tokens, refilled at N per Per. It is used by one
// goroutine at a time.
type limiter struct {
	limit  RateLimit
	tokens float64
	last   time.Time
}

// take uses a token when one is there; otherwise it returns when the next one will be.
func (l *limiter) take(now time.Time) (ok bool, retryAt time.Time) {
	if l.limit.N <= 0 || l.limit.Per <= 0 {
		return true, time.Time{}
	}
	n := float64(l.limit.N)
	perNano := n / float64(l.limit.Per)
	if l.last.IsZero() {
		l.tokens, l.last = n, now
	}
	if now.After(l.last) {
		l.tokens = min(n, l.tokens+float64(now.Sub(l.last))*perNano)
		l.last = now
	}
	if l.tokens >= 1 {
		l.tokens--
		return true, time.Time{}
	}
	wait := time.Duration((1 - l.tokens) / perNano)
	return false, now.Add(max(wait, time.Millisecond))
}
