// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// A plugin that uses circuit, loaded with dlopen() by loader.cc (which does
// not link libcircuit): libcircuit and the inline hot path in this plugin
// reach the library's per-thread record through initial-exec TLS, which a
// library loaded after program start gets only from the static TLS surplus.

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "circuit/circuit.h"

extern "C" __attribute__((visibility("default"))) int circuit_plugin_run(
    int threads, int calls) {
  circuit::SetOptions options;
  options.defaults.max_failures = circuit::kUnlimited;
  circuit::CircuitBreakerSet set(options);
  circuit::PeerHandle handle = set.handle("plugin-peer");
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < calls; ++i) {
        if (i % 2 == 0) {
          handle.context().succeed();  // the inline path
        } else {
          set.context("peer-" + std::to_string(t)).fail();
        }
      }
    });
  }
  for (std::thread& th : pool) th.join();
  const auto want_each = static_cast<std::uint64_t>(calls / 2);
  std::uint64_t successes = set.snapshot("plugin-peer")->successes;
  std::uint64_t failures = 0;
  for (int t = 0; t < threads; ++t) {
    failures += set.snapshot("peer-" + std::to_string(t))->failures;
  }
  if (successes != want_each * threads || failures != want_each * threads) {
    std::fprintf(stderr, "plugin: %llu successes and %llu failures, want %llu each\n",
                 static_cast<unsigned long long>(successes),
                 static_cast<unsigned long long>(failures),
                 static_cast<unsigned long long>(want_each * threads));
    return 1;
  }
  return 0;
}
