// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Helper process for the multi-process Redis tests: one set on one store.
//
//   redis_worker <port> <prefix> <peer> <max_failures> <failures>
//
// Prints "ready" once its store is healthy, waits for a line on stdin, makes
// <failures> failed calls to <peer>, then waits (at most 10 s) until the
// peer reads open and prints "open <microseconds since its last failure>",
// or "timeout". With <failures> = 0 it is a late joiner: it prints "open
// <microseconds since ready>" once it has learned the open state.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "circuit/circuit.h"
#include "circuit/redis_store.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: redis_worker port prefix peer max_failures failures\n");
    return 2;
  }
  circuit::RedisOptions r;
  r.port = std::atoi(argv[1]);
  r.key_prefix = argv[2];
  r.command_timeout = absl::Milliseconds(500);
  r.connect_timeout = absl::Milliseconds(500);
  std::string peer = argv[3];
  circuit::SetOptions o;
  o.defaults.max_failures = std::atoi(argv[4]);
  int failures = std::atoi(argv[5]);
  auto store = std::make_shared<circuit::RedisStore>(r);
  o.store = store;
  circuit::CircuitBreakerSet set(o);
  using Clock = std::chrono::steady_clock;
  auto until = Clock::now() + std::chrono::seconds(10);
  while (!store->healthy() && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::printf("ready\n");
  std::fflush(stdout);
  auto t0 = Clock::now();
  if (failures > 0) {
    std::string line;
    if (!std::getline(std::cin, line)) return 3;
    for (int i = 0; i < failures; ++i) {
      auto ctx = set.try_context(peer);
      if (ctx.ok()) ctx->fail();
    }
    t0 = Clock::now();
  }
  until = Clock::now() + std::chrono::seconds(10);
  while (set.state(peer) != circuit::State::kOpen && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (set.state(peer) != circuit::State::kOpen) {
    std::printf("timeout\n");
    return 1;
  }
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  std::printf("open %lld\n", static_cast<long long>(us));
  std::fflush(stdout);
  return 0;
}
