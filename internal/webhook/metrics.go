package webhook

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a delivery attempt, as postern_webhook_deliveries_total
// counts them: the Webhooks page's "Delivered", "Failed, will retry" and
// "Failed, given up".
const (
	OutcomeDelivered = "delivered"
	OutcomeRetry     = "retry"
	OutcomeGivenUp   = "given_up"
)

var outcomes = [...]string{OutcomeDelivered, OutcomeRetry, OutcomeGivenUp}

var (
	descDeliveries = prometheus.NewDesc("postern_webhook_deliveries_total",
		"Webhook delivery attempts since the start, by outcome: delivered, retry (failed, tried again later), given_up (failed, the last try).",
		[]string{"outcome"}, nil)
	descPending = prometheus.NewDesc("postern_webhook_outbox_pending",
		"Events in the outbox waiting to be delivered to an enabled endpoint.", nil, nil)
	descOldest = prometheus.NewDesc("postern_webhook_outbox_oldest_pending_age_seconds",
		"Age of the oldest event waiting to be delivered to an enabled endpoint (since written or redelivered); 0 when none waits.", nil, nil)
)

// stats are the worker's figures for /metrics: the attempts it made since
// it started, and how long receivers took to answer.
type stats struct {
	attempts [len(outcomes)]atomic.Int64
	latency  prometheus.Histogram
}

func newStats() *stats {
	return &stats{latency: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "postern_webhook_delivery_duration_seconds",
		Help: "Time from sending an event to the receiver's answer (or the error), over every attempt that sent one.",
		// The request timeout is 10 s by default.
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})}
}

// count records one attempt's outcome.
func (s *stats) count(outcome string) {
	for i, o := range outcomes {
		if o == outcome {
			s.attempts[i].Add(1)
			return
		}
	}
}

// Describe implements prometheus.Collector.
func (w *Worker) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDeliveries
	ch <- descPending
	ch <- descOldest
	w.stats.latency.Describe(ch)
}

// Collect implements prometheus.Collector: the attempt counters and the
// latency from memory, the backlog read from the outbox at scrape time (so
// it is right after a restart).
func (w *Worker) Collect(ch chan<- prometheus.Metric) {
	for i, o := range outcomes {
		ch <- prometheus.MustNewConstMetric(descDeliveries, prometheus.CounterValue, float64(w.stats.attempts[i].Load()), o)
	}
	w.stats.latency.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := w.store.WebhookBacklog(ctx)
	if err != nil {
		// postern_database_up says the database is down; the backlog is
		// left out rather than shown as empty.
		w.log.Warn("metrics: read the webhook outbox", "err", err)
		return
	}
	var age float64
	if !b.Oldest.IsZero() {
		age = max(w.o.Now().Sub(b.Oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(b.Pending))
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age)
}
