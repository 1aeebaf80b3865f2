// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "circuit/prometheus.h"

#include <cstdint>
#include <utility>

#include "circuit/breaker_set.h"
#include "circuit/state.h"
#include "metrics.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"

namespace circuit {
namespace {

prometheus::MetricFamily Family(const std::string& name, const char* help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

}  // namespace

PrometheusCollectable::PrometheusCollectable(const CircuitBreakerSet& set,
                                             std::string_view prefix)
    : set_(set), prefix_(internal::MetricPrefix(prefix)) {}

PrometheusCollectable::~PrometheusCollectable() = default;

std::vector<prometheus::MetricFamily> PrometheusCollectable::Collect() const {
  std::vector<PeerSnapshot> peers = set_.snapshot();

  // Names and help texts match CircuitBreakerSet::prometheus_text().
  prometheus::MetricFamily state =
      Family(prefix_ + "_state",
             "Breaker state per peer: 1 for the current state.",
             prometheus::MetricType::Gauge);
  struct Counter {
    const char* name;
    const char* help;
    std::uint64_t PeerSnapshot::*field;
  };
  const Counter kCounters[] = {
      {"_calls_total", "Admitted calls with a recorded outcome.",
       &PeerSnapshot::calls},
      {"_failures_total", "Counted failures.", &PeerSnapshot::failures},
      {"_rejections_total", "Calls rejected by the breaker.",
       &PeerSnapshot::rejections},
      {"_trips_total", "Transitions into the open state.", &PeerSnapshot::trips},
  };
  const State kStates[] = {State::kClosed, State::kOpen, State::kHalfOpen,
                           State::kForcedOpen, State::kDisabled};

  std::vector<prometheus::MetricFamily> out;
  out.reserve(1 + std::size(kCounters));
  state.metric.reserve(peers.size() * std::size(kStates));
  std::vector<std::string> labels;
  labels.reserve(peers.size());
  for (const PeerSnapshot& s : peers) {
    labels.push_back(internal::PeerLabel(s.peer));  // serializer escapes
    for (State st : kStates) {
      prometheus::ClientMetric m;
      m.label = {{"peer", labels.back()}, {"state", std::string(state_name(st))}};
      m.gauge.value = s.state == st ? 1 : 0;
      state.metric.push_back(std::move(m));
    }
  }
  out.push_back(std::move(state));
  for (const Counter& c : kCounters) {
    prometheus::MetricFamily f =
        Family(prefix_ + c.name, c.help, prometheus::MetricType::Counter);
    f.metric.reserve(peers.size());
    for (std::size_t i = 0; i < peers.size(); ++i) {
      prometheus::ClientMetric m;
      m.label = {{"peer", labels[i]}};
      m.counter.value = static_cast<double>(peers[i].*c.field);
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace circuit
