// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Subscriber: the pub/sub side of the Redis store.
//
// One thread owns the subscribed connection. It (re)subscribes with
// backoff, then waits with poll() for the socket or the stop eventfd, reads
// only when the socket is readable, decodes each message (protocol.h) and
// hands it to the FleetView. Every `keepalive_interval` of silence it sends
// a PING; a PONG that misses `command_timeout` drops the connection (a hung
// or SIGSTOPped server still accepts connections). After every subscribe it
// calls `on_subscribed`, since messages may have been missed meanwhile.
//
// No locks of its own; stopping is an atomic flag plus the eventfd, so a
// stop interrupts every wait at once.
//
// Thread safety: RequestStop() may be called from any thread; Start() once,
// and Join() from one thread only.

#ifndef CIRCUIT_SRC_REDIS_SUBSCRIBER_H_
#define CIRCUIT_SRC_REDIS_SUBSCRIBER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "circuit/redis_store.h"
#include "redis/connection.h"
#include "redis/fleet_view.h"
#include "redis/health.h"
#include "redis/protocol.h"

namespace circuit::internal::redis {

class Subscriber {
 public:
  // Every pointer and reference must outlive the subscriber. Throws
  // std::runtime_error when it cannot make its stop eventfd.
  Subscriber(const RedisOptions& options, const Keys& keys, FleetView* fleet,
             std::function<void()> on_subscribed, Counters* counters,
             Health* health, Backoff* backoff);

  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Stops and joins the thread if it runs.
  ~Subscriber();

  // Starts the thread. Throws what std::thread throws.
  void Start();

  // Asks the thread to stop; every wait ends at once, the I/O in flight
  // (a connect, an AUTH) within its timeout.
  void RequestStop();

  // Waits for the thread to end (after RequestStop()).
  void Join();

 private:
  void Main();
  // Connects, authenticates and subscribes; OK once confirmed.
  absl::Status Subscribe(Connection* conn);
  // Reads messages and keeps the connection alive until a stop (false) or
  // a failure (true).
  bool Listen(Connection& conn);
  // Waits for `fd` (none if < 0) to be readable until `deadline`.
  Readiness Wait(int fd, SteadyTime deadline);
  // Sleeps for `d`; false when stopped meanwhile.
  bool SleepOrStop(std::chrono::nanoseconds d);
  void OnMessage(std::string_view payload);

  const RedisOptions& options_;
  const Keys& keys_;
  FleetView* const fleet_;
  const std::function<void()> on_subscribed_;
  Counters* const counters_;
  Health* const health_;
  Backoff* const backoff_;
  const int wake_fd_;

  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace circuit::internal::redis

#endif  // CIRCUIT_SRC_REDIS_SUBSCRIBER_H_
