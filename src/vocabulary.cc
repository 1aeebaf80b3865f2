// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The small pieces of the vocabulary headers: state names, clocks, option
// validation and the rejection exception.

#include <time.h>

#include <cmath>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "circuit/clock.h"
#include "circuit/errors.h"
#include "circuit/options.h"
#include "circuit/state.h"
#include "arith.h"
#include "messages.h"

namespace circuit {

std::string_view state_name(State state) noexcept {
  switch (state) {
    case State::kClosed:
      return "closed";
    case State::kOpen:
      return "open";
    case State::kHalfOpen:
      return "half-open";
    case State::kForcedOpen:
      return "forced-open";
    case State::kDisabled:
      return "disabled";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, State state) {
  return os << state_name(state);
}

absl::Time MonotonicClock::now() const {
  return absl::FromUnixNanos(internal::ReadClockNs(CLOCK_MONOTONIC));
}

const MonotonicClock& MonotonicClock::instance() noexcept {
  static const MonotonicClock clock;
  return clock;
}

namespace {

absl::Status Bad(absl::string_view field, absl::string_view value,
                 absl::string_view requirement) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " is ", value, "; it must be ", requirement));
}

std::string Num(double v) { return absl::StrCat(v); }

bool IsRate(double v) { return v == 0 || (v > 0 && v <= 1); }

}  // namespace

absl::Status BreakerOptions::validate() const {
  if (max_failures < 0) {
    return Bad("max_failures", absl::StrCat(max_failures),
               ">= 0 (or circuit::kUnlimited)");
  }
  if (time_unit <= absl::ZeroDuration() || time_unit == absl::InfiniteDuration()) {
    return Bad("time_unit", absl::FormatDuration(time_unit), "finite and > 0");
  }
  if (reset_timeout < absl::ZeroDuration() ||
      reset_timeout == absl::InfiniteDuration()) {
    return Bad("reset_timeout", absl::FormatDuration(reset_timeout),
               "finite and >= 0");
  }
  if (half_open_max_calls < 1 || half_open_max_calls > 65535) {
    return Bad("half_open_max_calls", absl::StrCat(half_open_max_calls),
               "in [1, 65535]");
  }
  if (half_open_successes < 1) {
    return Bad("half_open_successes", absl::StrCat(half_open_successes), ">= 1");
  }
  if (consecutive_failures < 0) {
    return Bad("consecutive_failures", absl::StrCat(consecutive_failures),
               ">= 0 (0: off)");
  }
  if (!IsRate(failure_rate_threshold)) {
    return Bad("failure_rate_threshold", Num(failure_rate_threshold),
               "0 (off) or in (0, 1]");
  }
  if (minimum_calls < 1) {
    return Bad("minimum_calls", absl::StrCat(minimum_calls), ">= 1");
  }
  if (window_buckets < 1 || window_buckets > 1000) {
    return Bad("window_buckets", absl::StrCat(window_buckets), "in [1, 1000]");
  }
  if (slow_call_duration < absl::ZeroDuration() ||
      slow_call_duration == absl::InfiniteDuration()) {
    return Bad("slow_call_duration", absl::FormatDuration(slow_call_duration),
               "finite and >= 0 (0: off)");
  }
  if (!IsRate(slow_call_rate_threshold)) {
    return Bad("slow_call_rate_threshold", Num(slow_call_rate_threshold),
               "0 (off) or in (0, 1]");
  }
  if (slow_call_rate_threshold > 0 && slow_call_duration == absl::ZeroDuration()) {
    return Bad("slow_call_rate_threshold", Num(slow_call_rate_threshold),
               "0 while slow_call_duration is 0 (set slow_call_duration)");
  }
  if (!(backoff_multiplier >= 1) || std::isinf(backoff_multiplier)) {
    return Bad("backoff_multiplier", Num(backoff_multiplier), "finite and >= 1");
  }
  if (max_reset_timeout < reset_timeout) {
    return Bad("max_reset_timeout", absl::FormatDuration(max_reset_timeout),
               absl::StrCat(">= reset_timeout (",
                            absl::FormatDuration(reset_timeout), ")"));
  }
  if (!(jitter >= 0 && jitter < 1)) {
    return Bad("jitter", Num(jitter), "in [0, 1)");
  }
  if (max_concurrent_calls < 0) {
    return Bad("max_concurrent_calls", absl::StrCat(max_concurrent_calls),
               ">= 0 (0: unlimited)");
  }
  return absl::OkStatus();
}

absl::Status OutlierOptions::validate() const {
  if (interval <= absl::ZeroDuration() || interval == absl::InfiniteDuration()) {
    return Bad("outlier.interval", absl::FormatDuration(interval),
               "finite and > 0");
  }
  if (minimum_peers < 1) {
    return Bad("outlier.minimum_peers", absl::StrCat(minimum_peers), ">= 1");
  }
  if (minimum_calls < 0) {
    return Bad("outlier.minimum_calls", absl::StrCat(minimum_calls), ">= 0");
  }
  if (!(success_rate_stdev_factor >= 0) || std::isinf(success_rate_stdev_factor)) {
    return Bad("outlier.success_rate_stdev_factor",
               Num(success_rate_stdev_factor), "finite and >= 0 (0: off)");
  }
  if (!(failure_percentage_threshold >= 0 && failure_percentage_threshold <= 1)) {
    return Bad("outlier.failure_percentage_threshold",
               Num(failure_percentage_threshold), "in [0, 1] (0: off)");
  }
  if (!(latency_factor == 0 || latency_factor > 1) || std::isinf(latency_factor)) {
    return Bad("outlier.latency_factor", Num(latency_factor),
               "0 (off) or finite and above 1");
  }
  return absl::OkStatus();
}

absl::Status SetOptions::validate() const {
  if (absl::Status s = defaults.validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("defaults.", s.message()));
  }
  if (!(max_open_fraction > 0 && max_open_fraction <= 1)) {
    return Bad("max_open_fraction", Num(max_open_fraction), "in (0, 1]");
  }
  if (absl::Status s = outlier.validate(); !s.ok()) return s;
  if (idle_timeout < absl::ZeroDuration()) {
    return Bad("idle_timeout", absl::FormatDuration(idle_timeout),
               ">= 0 (0: never)");
  }
  if (log_interval < absl::ZeroDuration()) {
    return Bad("log_interval", absl::FormatDuration(log_interval), ">= 0");
  }
  if (max_peer_id_bytes == 0) {
    return Bad("max_peer_id_bytes", "0", ">= 1");
  }
  for (absl::StatusCode c : failure_codes) {
    if (c == absl::StatusCode::kOk) {
      return Bad("failure_codes", "a list holding kOk",
                 "a list of error codes (kOk is never a failure)");
    }
  }
  return absl::OkStatus();
}

namespace internal {

std::string OpenCircuitMessage(std::string_view peer) {
  return absl::StrCat("circuit open for peer '",
                      absl::string_view(peer.data(), peer.size()), "'");
}

std::string ConcurrencyLimitMessage(std::string_view peer, int limit) {
  return absl::StrCat("concurrency limit reached for peer '",
                      absl::string_view(peer.data(), peer.size()), "': ",
                      limit, " calls in flight (max_concurrent_calls)");
}

}  // namespace internal

RejectedError::RejectedError(std::string_view peer, const std::string& message)
    : std::runtime_error(message), peer_(peer) {}

CircuitOpenError::CircuitOpenError(std::string_view peer,
                                   absl::Duration retry_after)
    : RejectedError(
          peer,
          absl::StrCat(internal::OpenCircuitMessage(peer),
                       retry_after == absl::InfiniteDuration()
                           ? " (forced open)"
                           : absl::StrCat(" (retry after ",
                                          absl::FormatDuration(retry_after),
                                          ")"))),
      retry_after_(retry_after) {}

ConcurrencyLimitError::ConcurrencyLimitError(std::string_view peer, int limit)
    : RejectedError(peer, internal::ConcurrencyLimitMessage(peer, limit)),
      limit_(limit) {}

}  // namespace circuit
