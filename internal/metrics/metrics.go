// Package metrics exposes Postern's Prometheus metrics. Sync figures are read
// at scrape time from the store, the worker and the snapshot, so they are
// right after a restart and cost nothing between scrapes.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/syncer"
)

// Store is what the metrics read of the database: the sync run totals.
type Store interface {
	RunTotals(ctx context.Context) (model.RunTotals, error)
}

// Metrics owns the registry.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// observed holds each (route, method, code)'s two series, found once:
	// the vectors' own lookup takes a lock and hashes the labels, and the
	// enforcement API observes tens of thousands of requests a second.
	observed sync.Map // observedKey → observedSeries
}

type observedKey struct {
	route, method string
	code          int
}

type observedSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// New registers every metric. status reports the sync worker's state.
func New(st Store, devices *fleet.Holder, status func() syncer.Status, log *slog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postern_http_requests_total", Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "postern_http_request_duration_seconds", Help: "HTTP request duration by route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.requests, m.latency, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&syncCollector{store: st, devices: devices, status: status, log: log})
	return m
}

// Register adds a collector of another package (the decision log's
// counters) to what /metrics serves.
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Observe records one HTTP request. route is the route template (e.g.
// /devices/:id), never the raw path, and a method outside HTTP's own is
// "other", to keep the label set small: the client chooses the method,
// and forward-auth answers any.
func (m *Metrics) Observe(route, method string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
	default:
		method = "other"
	}
	k := observedKey{route, method, code}
	v, ok := m.observed.Load(k)
	if !ok {
		v, _ = m.observed.LoadOrStore(k, observedSeries{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(code)),
			latency:  m.latency.WithLabelValues(route),
		})
	}
	series := v.(observedSeries)
	series.requests.Inc()
	series.latency.Observe(d.Seconds())
}

// Handler serves the text exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

var (
	runsDesc = prometheus.NewDesc("postern_sync_runs_total", "Sync runs by outcome.", []string{"outcome"}, nil)
	waitDesc = prometheus.NewDesc("postern_sync_throttled_waits_total",
		"429 answers from Defender waited out, over all runs.", nil, nil)
	lastOKDesc = prometheus.NewDesc("postern_sync_last_success_timestamp_seconds",
		"When the last successful sync finished (Unix time); 0 before the first.", nil, nil)
	lastDurDesc = prometheus.NewDesc("postern_sync_last_duration_seconds", "Duration of the last finished sync.", nil, nil)
	runningDesc = prometheus.NewDesc("postern_sync_running", "1 while a sync runs.", nil, nil)
	breakerDesc = prometheus.NewDesc("postern_sync_breaker_open", "1 while repeated failures have lengthened the interval.", nil, nil)
	devicesDesc = prometheus.NewDesc("postern_devices", "Devices in the in-memory snapshot.", []string{"state"}, nil)
	dbUpDesc    = prometheus.NewDesc("postern_database_up", "1 while the database answers.", nil, nil)
	readyDesc   = prometheus.NewDesc("postern_snapshot_loaded", "1 once the stored device snapshot is in memory: the enforcement API can answer.", nil, nil)
	snapRunDesc = prometheus.NewDesc("postern_snapshot_run_id", "The sync run whose devices the in-memory snapshot holds (0 before the first).", nil, nil)
	snapAtDesc  = prometheus.NewDesc("postern_snapshot_synced_timestamp_seconds", "When the in-memory snapshot's sync finished (Unix time); 0 before the first.", nil, nil)
)

type syncCollector struct {
	store   Store
	devices *fleet.Holder
	status  func() syncer.Status
	log     *slog.Logger
}

func (c *syncCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{runsDesc, waitDesc, lastOKDesc, lastDurDesc, runningDesc, breakerDesc, devicesDesc, dbUpDesc, readyDesc, snapRunDesc, snapAtDesc} {
		ch <- d
	}
}

func (c *syncCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	totals, err := c.store.RunTotals(ctx)
	ch <- prometheus.MustNewConstMetric(dbUpDesc, prometheus.GaugeValue, b2f(err == nil))
	if err != nil {
		c.log.Warn("metrics: read sync runs", "err", err)
	} else {
		for _, outcome := range []string{model.RunSuccess, model.RunFailed, model.RunCancelled, model.RunInterrupted} {
			ch <- prometheus.MustNewConstMetric(runsDesc, prometheus.CounterValue, float64(totals.ByOutcome[outcome]), outcome)
		}
		ch <- prometheus.MustNewConstMetric(waitDesc, prometheus.CounterValue, float64(totals.ThrottledWaits))
	}
	st := c.status()
	var lastOK, lastDur float64
	if st.LastSuccess != nil && st.LastSuccess.FinishedAt != nil {
		lastOK = float64(st.LastSuccess.FinishedAt.Unix())
	}
	if r := st.LastRun; r != nil && r.FinishedAt != nil {
		lastDur = r.FinishedAt.Sub(r.StartedAt).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(lastOKDesc, prometheus.GaugeValue, lastOK)
	ch <- prometheus.MustNewConstMetric(lastDurDesc, prometheus.GaugeValue, lastDur)
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, b2f(st.Running))
	ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, b2f(st.BreakerOpen))
	snap := c.devices.Load()
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, b2f(c.devices.Loaded()))
	var syncedAt float64
	if !snap.SyncedAt.IsZero() {
		syncedAt = float64(snap.SyncedAt.Unix())
	}
	ch <- prometheus.MustNewConstMetric(snapRunDesc, prometheus.GaugeValue, float64(snap.RunID))
	ch <- prometheus.MustNewConstMetric(snapAtDesc, prometheus.GaugeValue, syncedAt)
	ch <- prometheus.MustNewConstMetric(devicesDesc, prometheus.GaugeValue, float64(snap.Active), "active")
	ch <- prometheus.MustNewConstMetric(devicesDesc, prometheus.GaugeValue, float64(snap.Len()-snap.Active), "removed")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
