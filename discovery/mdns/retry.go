package mdns

import "time"

// logEvery is the least time between two logs of a repeated error.
const logEvery = time.Minute

// backoff is an exponential back-off from min to max.
type backoff struct {
	min, max, cur time.Duration
}

// next returns the next wait: min, then twice the last, at most max.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur *= 2
	}
	b.cur = min(b.cur, max(b.max, b.min))
	return b.cur
}

// reset starts again from min.
func (b *backoff) reset() { b.cur = 0 }

// logLimiter lets a repeated log through at most once per every.
type logLimiter struct {
	every      time.Duration
	next       time.Time
	suppressed int
}

// allow reports whether to log now and, if so, how many calls were
// suppressed since the last one logged.
func (l *logLimiter) allow(now time.Time) (suppressed int, ok bool) {
	if !l.next.IsZero() && now.Before(l.next) {
		l.suppressed++
		return 0, false
	}
	suppressed, l.suppressed = l.suppressed, 0
	l.next = now.Add(l.every)
	return suppressed, true
}
