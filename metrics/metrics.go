// Package metrics exposes webhookd's Prometheus metrics: HTTP requests, deliveries created,
// delivery attempts, the queue (read from the database at scrape time) and the build.
//
// Metrics implements server.RequestObserver and delivery.Observer, and its DeliveryCreated
// fits store.Config.DeliveriesCreated, so those packages need not import it.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/webhookd/webhookd/buildinfo"
)

// QueueStats reads the queue: jobs by state and how long the oldest due job has waited.
type QueueStats interface {
	QueueStats(ctx context.Context) (map[string]int64, time.Duration, error)
}

// Metrics holds webhookd's metrics in a registry of its own.
type Metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	deliveries      *prometheus.CounterVec
	attempts        *prometheus.CounterVec
	direct          *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
}

// New builds the metrics of a process running build info, with the Go runtime's and the
// process's own.
func New(info buildinfo.Info) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookd_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "webhookd_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookd_deliveries_created_total",
			Help: "Deliveries created (one per webhook an event matched), by family and event.",
		}, []string{"family", "event"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookd_delivery_attempts_total",
			Help: "Delivery attempts made, by family and outcome (success, 3xx, 4xx, 5xx, timeout, refused_target, connection_error).",
		}, []string{"family", "outcome"}),
		direct: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookd_direct_dispatch_total",
			Help: "First attempts by what direct dispatch did with them (PostgreSQL): queued (made by the publishing process), spilled (queued in River: no room), handed_back (given back to River).",
		}, []string{"result"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "webhookd_delivery_attempt_duration_seconds",
			Help:    "Duration of delivery attempts' requests, by family and outcome.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}, []string{"family", "outcome"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "webhookd_build_info",
		Help: "Always 1; the labels tell the running build.",
	}, []string{"version", "commit", "date", "goversion"})
	build.WithLabelValues(info.Version, info.Commit, info.Date, info.GoVersion).Set(1)
	m.reg.MustRegister(m.requests, m.requestDuration, m.deliveries, m.attempts, m.direct, m.attemptDuration, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchQueue adds the queue's gauges, read through q at each scrape within timeout.
func (m *Metrics) WatchQueue(q QueueStats, timeout time.Duration, log *slog.Logger) {
	m.reg.MustRegister(&queueCollector{
		stats: q, timeout: timeout, log: log,
		jobs: prometheus.NewDesc("webhookd_queue_jobs",
			"Jobs in the delivery queue by state (each state counted up to 100000).", []string{"state"}, nil),
		oldest: prometheus.NewDesc("webhookd_queue_oldest_due_job_age_seconds",
			"How long the oldest job due to run has waited for a worker (0 when none waits).", nil, nil),
		up: prometheus.NewDesc("webhookd_queue_stats_up",
			"1 when the queue could be read at this scrape, 0 otherwise.", nil, nil),
	})
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts an answered request (server.RequestObserver).
func (m *Metrics) ObserveRequest(method, route string, status int, took time.Duration) {
	method = boundedMethod(method)
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(method, route).Observe(took.Seconds())
}

// DeliveryCreated counts n deliveries created and committed (store.Config.DeliveriesCreated).
func (m *Metrics) DeliveryCreated(family, event string, n int) {
	m.deliveries.WithLabelValues(family, event).Add(float64(n))
}

// AttemptDone counts a recorded attempt (delivery.Observer).
func (m *Metrics) AttemptDone(family, class string, took time.Duration) {
	m.attempts.WithLabelValues(family, class).Inc()
	m.attemptDuration.WithLabelValues(family, class).Observe(took.Seconds())
}

// DirectDispatch counts first attempts by what direct dispatch did with them
// (delivery.Observer).
func (m *Metrics) DirectDispatch(result string, n int) {
	m.direct.WithLabelValues(result).Add(float64(n))
}

// boundedMethod keeps the method label to the standard methods.
func boundedMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// queueCollector reads the queue when scraped.
type queueCollector struct {
	stats            QueueStats
	timeout          time.Duration
	log              *slog.Logger
	jobs, oldest, up *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.oldest
	ch <- c.up
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, age, err := c.stats.QueueStats(ctx)
	if err != nil {
		c.log.Warn("metrics: cannot read the queue", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age.Seconds())
}
