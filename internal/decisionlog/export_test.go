package decisionlog

import "time"

// SetTicks makes Run wake on ticks instead of every Interval.
func SetTicks(l *Log, ticks <-chan time.Time) { l.ticks = ticks }
