// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "redis/health.h"

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace circuit::internal::redis {

RedisStats Counters::Snapshot() const {
  RedisStats s;
  s.commands = commands.load(std::memory_order_relaxed);
  s.flushes = flushes.load(std::memory_order_relaxed);
  s.errors = errors.load(std::memory_order_relaxed);
  s.reconnects = reconnects.load(std::memory_order_relaxed);
  s.messages = messages.load(std::memory_order_relaxed);
  s.applied = applied.load(std::memory_order_relaxed);
  s.dropped = dropped.load(std::memory_order_relaxed);
  s.resyncs = resyncs.load(std::memory_order_relaxed);
  return s;
}

Health::Health(const RedisOptions& options)
    : logger_(options.logger),
      where_(absl::StrCat(options.host, ":", options.port, " (", options.key_prefix, ")")) {}

void Health::CommandUp() {
  command_up_.store(true, std::memory_order_release);
  if (subscription_up_.load()) Reachable();
}

void Health::CommandLost(std::string_view why) {
  command_up_.store(false, std::memory_order_release);
  if (was_healthy_.exchange(false)) {
    Log(true, absl::StrCat("backend down (", absl::string_view(why.data(), why.size()),
                           "); sets run on local state"));
  }
}

void Health::CommandClosed() { command_up_.store(false, std::memory_order_release); }

void Health::SubscriptionUp() {
  subscription_up_.store(true, std::memory_order_release);
  if (command_up_.load()) Reachable();
}

void Health::SubscriptionLost() {
  subscription_up_.store(false, std::memory_order_release);
  if (was_healthy_.exchange(false)) {
    Log(true, "subscription lost; sets run on local state");
  }
}

void Health::SubscriptionClosed() {
  subscription_up_.store(false, std::memory_order_release);
}

void Health::Reachable() {
  if (!was_healthy_.exchange(true)) Log(false, "backend reachable; fleet state shared again");
}

void Health::Log(bool warn, std::string_view message) const {
  if (!logger_) return;
  // A logger that throws must not take a store thread down.
  try {
    if (warn) {
      logger_->warn("redis store {}: {}", where_, message);
    } else {
      logger_->info("redis store {}: {}", where_, message);
    }
  } catch (...) {
  }
}

}  // namespace circuit::internal::redis
