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
  const State kStates[] = {State::kClosed, State::kOpen, State::kHalfOpen,
                           State::kForcedOpen, State::kDisabled};

  std::vector<prometheus::MetricFamily> out;
  out.reserve(1 + std::size(internal::kPeerSeries));
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
  for (const internal::PeerSeries& c : internal::kPeerSeries) {
    prometheus::MetricFamily f =
        Family(prefix_ + c.name, c.help,
               c.counter ? prometheus::MetricType::Counter
                         : prometheus::MetricType::Gauge);
    f.metric.reserve(peers.size());
    for (std::size_t i = 0; i < peers.size(); ++i) {
      prometheus::ClientMetric m;
      m.label = {{"peer", labels[i]}};
      if (c.counter) {
        m.counter.value = c.value(peers[i]);
      } else {
        m.gauge.value = c.value(peers[i]);
      }
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace circuit
