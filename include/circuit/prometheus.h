// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: prometheus.h
// -----------------------------------------------------------------------------
//
// `circuit::PrometheusCollectable` exposes a `CircuitBreakerSet` to
// prometheus-cpp, next to a service's other metrics: the same families as
// `CircuitBreakerSet::prometheus_text()`, read from `snapshot()` at every
// scrape:
//   - `circuit_state` (gauge): one series per peer and state, 1 for the
//     peer's current state and 0 for the others;
//   - `circuit_calls_total`, `circuit_failures_total`,
//     `circuit_rejections_total`, `circuit_trips_total` (counters), one
//     series per peer.
// Peer label values are those of `prometheus_text()` (valid UTF-8 kept, a
// backslash written `\\`, an invalid byte `\xHH`; see breaker_set.h), so
// distinct peers keep distinct series; prometheus-cpp escapes them for the
// text format.
//
// Built only when the Meson feature option `prometheus` finds
// prometheus-cpp-core (Debian's prometheus-cpp-dev); the core library never
// includes prometheus-cpp headers.
//
// prometheus-cpp 1.0 collects `Collectable`s through a weak pointer:
// register it where the service registers its `prometheus::Registry`,
// `Exposer::RegisterCollectable()` (prometheus-cpp-pull) or
// `Gateway::RegisterCollectable()` (prometheus-cpp-push). Keep the
// `shared_ptr` alive for as long as it should be scraped.
//
// Thread safety: `Collect()` may be called from any thread, concurrently
// with every use of the set.
// REQUIRES: the set outlives the collectable's last `Collect()`.
//
// Example:
//
//   circuit::CircuitBreakerSet breakers;
//   auto registry = std::make_shared<prometheus::Registry>();
//   auto circuits = std::make_shared<circuit::PrometheusCollectable>(breakers);
//   prometheus::Exposer exposer{"127.0.0.1:9464"};
//   exposer.RegisterCollectable(registry);   // the service's own metrics
//   exposer.RegisterCollectable(circuits);   // one family per breaker metric

#ifndef CIRCUIT_PROMETHEUS_H_
#define CIRCUIT_PROMETHEUS_H_

#include <string>
#include <string_view>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace circuit {

class CircuitBreakerSet;

// PrometheusCollectable
//
// See the file comment.
class PrometheusCollectable final : public prometheus::Collectable {
 public:
  // `set` is not owned and must outlive the collectable. `prefix` replaces
  // "circuit" in the family names (made a valid metric name, as
  // `prometheus_text()` does).
  explicit PrometheusCollectable(const CircuitBreakerSet& set,
                                 std::string_view prefix = "circuit");

  PrometheusCollectable(const PrometheusCollectable&) = delete;
  PrometheusCollectable& operator=(const PrometheusCollectable&) = delete;

  ~PrometheusCollectable() override;

  // PrometheusCollectable::Collect()
  //
  // The five families, with one series per tracked peer (and state).
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const CircuitBreakerSet& set_;  // constant after construction
  const std::string prefix_;      // constant after construction
};

}  // namespace circuit

#endif  // CIRCUIT_PROMETHEUS_H_
