// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// What the Redis store tells about itself: the health of its two links (and
// the log line at each edge of the whole), and the counters behind
// RedisStore::stats(). The store owns one of each; the flusher and the
// subscriber report into them.
//
// Thread safety: lock-free; every member may be called from any thread.

#ifndef CIRCUIT_SRC_REDIS_HEALTH_H_
#define CIRCUIT_SRC_REDIS_HEALTH_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "circuit/redis_store.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace circuit::internal::redis {

// Counters
//
// One relaxed atomic per RedisStats field.
struct Counters {
  std::atomic<std::uint64_t> commands{0}, flushes{0}, errors{0}, reconnects{0},
      messages{0}, applied{0}, dropped{0}, resyncs{0};

  static void Add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  RedisStats Snapshot() const;
};

// Health
//
// The store is healthy while both links are up (the command link has its
// scripts loaded, the subscription is confirmed). Going from healthy to not
// logs a warning once, and back an info line once.
class Health {
 public:
  explicit Health(const RedisOptions& options);

  bool healthy() const {
    return command_up_.load(std::memory_order_acquire) &&
           subscription_up_.load(std::memory_order_acquire);
  }

  // The command link is up / was lost (`why`) / was closed on purpose.
  void CommandUp();
  void CommandLost(std::string_view why);
  void CommandClosed();

  // The subscription is up / was lost / was closed on purpose.
  void SubscriptionUp();
  void SubscriptionLost();
  void SubscriptionClosed();

 private:
  void Reachable();
  void Log(bool warn, std::string_view message) const;

  const std::shared_ptr<spdlog::logger> logger_;
  const std::string where_;  // "host:port (prefix)"
  std::atomic<bool> command_up_{false};
  std::atomic<bool> subscription_up_{false};
  // What was last logged: true after "reachable", false after "down".
  std::atomic<bool> was_healthy_{false};
};

}  // namespace circuit::internal::redis

#endif  // CIRCUIT_SRC_REDIS_HEALTH_H_
