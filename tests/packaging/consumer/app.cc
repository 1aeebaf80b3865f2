// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// A user's program, built by tests/packaging/consumer/meson.build against
// circuit as a subproject (tests/packaging/subproject.sh) or installed
// (.ci/packages.sh). It links the core and both adapter libraries, and
// exits 0 when each of them answers.
#include <cstdio>

#include "circuit/circuit.h"
#include "circuit/prometheus.h"
#include "circuit/redis_store.h"

int main() {
  circuit::CircuitBreakerSet set;
  set.context("peer").succeed();

  circuit::RedisOptions redis;  // only validated: no server is needed
  redis.key_prefix = "app";

  circuit::PrometheusCollectable collectable(set);

  bool core_ok = set.state("peer") == circuit::State::kClosed;
  bool redis_ok = redis.validate().ok();
  bool prometheus_ok = !collectable.Collect().empty();
  std::printf("app: circuit %s: core %s, redis %s, prometheus %s\n",
              CIRCUIT_VERSION_STRING, core_ok ? "ok" : "FAILED",
              redis_ok ? "ok" : "FAILED", prometheus_ok ? "ok" : "FAILED");
  return core_ok && redis_ok && prometheus_ok ? 0 : 1;
}
