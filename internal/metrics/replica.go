package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	leaderDesc = prometheus.NewDesc("postern_replica_sync_leader",
		"1 while this replica is the sync leader of the replicas sharing its database, 0 as a follower.", []string{"replica"}, nil)
	epochDesc = prometheus.NewDesc("postern_replica_leader_epoch",
		"The sync leader's term this replica leads (0 as a follower).", []string{"replica"}, nil)
)

// RegisterReplica reports, with several replicas on one database, this
// replica's role: status returns whether it leads and its term.
func (m *Metrics) RegisterReplica(name string, status func() (leader bool, epoch int64)) {
	m.reg.MustRegister(&replicaCollector{name: name, status: status})
}

type replicaCollector struct {
	name   string
	status func() (bool, int64)
}

func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) { ch <- leaderDesc; ch <- epochDesc }

func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	leader, epoch := c.status()
	ch <- prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, b2f(leader), c.name)
	ch <- prometheus.MustNewConstMetric(epochDesc, prometheus.GaugeValue, float64(epoch), c.name)
}
