// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// A breaker's policy and its trip rules: what decides, from the outcomes a
// closed breaker records, that it opens, and for how long. The window rule
// (max_failures within time_unit), the consecutive-failure rule, the
// failure-rate and slow-call-rate rules, and the backoff of the open
// period. A value with no lock, no clock and no atomics: its breaker calls
// it under its own lock, with the time it read (src/breaker.h), and tests
// drive it alone.

#ifndef CIRCUIT_SRC_TRIP_RULES_H_
#define CIRCUIT_SRC_TRIP_RULES_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "circuit/options.h"

namespace circuit::internal {

// OpenBudget
//
// The set's say over automatic trips (SetOptions::max_open_fraction): how
// many of its peers are open, half-open or forced open, against the limit
// max(1, floor(fraction * peers)). Breakers count themselves in and out as
// their state changes (under their own lock); an automatic trip first
// reserves its place, and one that finds none is suppressed. Manual and
// remote opens are counted without asking.
class OpenBudget {
 public:
  // `peers` reads how many peers the set tracks; called only on trips.
  OpenBudget(double fraction, std::function<std::size_t()> peers)
      : fraction_(fraction), peers_(std::move(peers)) {}

  // Reserves a place for an automatic trip; false at the limit.
  bool TryTake() noexcept;
  // A change not asked about: +1 into the open states, -1 out of them.
  void Add(std::int64_t delta) noexcept {
    open_.fetch_add(delta, std::memory_order_acq_rel);
  }
  std::int64_t open() const noexcept {
    return open_.load(std::memory_order_acquire);
  }
  // max(1, floor(fraction * peers)).
  std::int64_t Limit(std::size_t peers) const noexcept;

 private:
  const double fraction_;
  const std::function<std::size_t()> peers_;
  std::atomic<std::int64_t> open_{0};
};

// Policy
//
// Validated options plus what the breaker derives from them. Immutable;
// shared by every breaker that uses it.
struct Policy {
  // What the set adds to a peer's options.
  struct SetLevel {
    std::uint64_t seed = 0;          // jitter
    bool records_latency = false;    // outlier latency rule on
    bool judges_outliers = false;    // any outlier rule on
    OpenBudget* budget = nullptr;    // max_open_fraction < 1
  };

  BreakerOptions options;
  std::int64_t time_unit_ns = 0;
  std::int64_t reset_ns = 0;
  std::int64_t max_reset_ns = 0;     // INT64_MAX: no cap
  std::int64_t slow_ns = 0;          // 0: no slow-call rule
  std::int64_t bucket_ns = 0;        // width of one rate bucket
  std::uint64_t seed = 0;            // set-level: jitter
  bool window_rule = false;
  bool rate_rules = false;  // failure rate or slow-call rate
  // The slow-call rule or the latency rule on: admissions read the clock.
  bool times_calls = false;
  bool records_latency = false;      // set-level: keep latency samples
  // Set-level: a counted failure reads the clock even when no trip rule
  // needs it (outlier evaluation runs on that time).
  bool failures_report_time = false;
  std::int32_t max_concurrent = 0;   // 0: no bulkhead
  OpenBudget* budget = nullptr;      // set-level; null: no limit

  // Policy::Make()
  //
  // `kInvalidArgument` when `options` do not validate.
  static absl::StatusOr<std::unique_ptr<Policy>> Make(
      const BreakerOptions& options, const SetLevel& set);
  static absl::StatusOr<std::unique_ptr<Policy>> Make(
      const BreakerOptions& options, std::uint64_t seed) {
    return Make(options, SetLevel{.seed = seed});
  }
};

// TripRules
//
// The rules' memory of one closed breaker (the failure history, the rate
// buckets) and the trips in a row that drive the backoff. Not thread-safe:
// its breaker's lock guards it.
class TripRules {
 public:
  TripRules() = default;
  TripRules(const TripRules&) = delete;
  TripRules& operator=(const TripRules&) = delete;

  // TripRules::Configure()
  //
  // Sizes the failure history and the rate buckets for `p`, keeping the
  // newest failures. May throw std::bad_alloc, in which case nothing
  // changed.
  void Configure(const Policy& p);

  // TripRules::NeedsTime()
  //
  // Whether recording an outcome (a failure when `failure`) that makes the
  // failure run `run` needs the time: the window and rate rules keep times,
  // a trip stamps one, and outlier detection evaluates on a failure's time.
  static bool NeedsTime(const Policy& p, bool failure, std::int32_t run) noexcept {
    return p.rate_rules ||
           (failure && (p.window_rule || p.failures_report_time ||
                        ConsecutiveFires(p, run)));
  }

  // TripRules::Record()
  //
  // Records a counted outcome of a closed breaker at `now` (read only when
  // NeedsTime), `slow` by the slow-call rule, the failure run being `run`
  // with it; returns whether a rule fires (the breaker trips).
  bool Record(const Policy& p, std::int64_t now, bool failure, bool slow,
              std::int32_t run) noexcept {
    // Inline: a failure no rule keeps costs a breaker nothing more.
    bool trip = failure && ConsecutiveFires(p, run);
    if (failure && p.window_rule && RecordWindowFailure(p, now)) trip = true;
    if (p.rate_rules && RecordRate(p, now, failure, slow)) trip = true;
    return trip;
  }

  // TripRules::NextOpenPeriod()
  //
  // The open period of a trip at `now`. The trips in a row first decay by
  // one per full time_unit spent closed (`from_closed`), then grow by one
  // (`grow`: the rules or a probe tripped it) or become at least one (a
  // manual or remote open). `jitter_key` picks the jitter.
  std::int64_t NextOpenPeriod(const Policy& p, std::int64_t now,
                              bool from_closed, bool grow,
                              std::uint64_t jitter_key) noexcept;

  // TripRules::Closed()
  //
  // The breaker closed at `now`: the failure history and rate buckets are
  // cleared, and the backoff starts decaying; `forget_backoff` (an
  // operator's close) also resets the trips in a row.
  void Closed(const Policy& p, std::int64_t now, bool forget_backoff) noexcept;

  // The window rule's failures within (now - time_unit, now]; exact up to
  // max_failures.
  int FailuresInWindow(const Policy& p, std::int64_t now) const noexcept;
  std::int32_t trips_in_a_row() const noexcept { return streak_; }

  // A trip decided elsewhere (a shared store's) opened the breaker: it
  // counts as at least one trip in a row.
  void TripDecidedElsewhere() noexcept { streak_ = std::max(streak_, 1); }

 private:
// Ring of the newest counted failure times, exact for the window rule.
class FailureRing {
 public:
  ~FailureRing();
  // Sets the rule's `max_failures` (0 when the window rule is off),
  // keeping the newest failures that fit. Memory is not reserved up front:
  // the ring grows as failures actually share a window, up to the limit.
  void SetLimit(std::uint32_t limit) noexcept;
  // Adds a failure at `t`; returns whether more than `limit` failures
  // now fall within (t - window, t].
  bool AddAndCheck(std::int64_t t, std::int64_t window) noexcept;
  int CountWithin(std::int64_t now, std::int64_t window) const noexcept;
  void Clear() noexcept { head_ = count_ = 0; }

 private:
  std::int64_t* data() noexcept { return cap_ <= kInline ? inline_ : heap_; }
  const std::int64_t* data() const noexcept {
    return cap_ <= kInline ? inline_ : heap_;
  }
  // Doubles the storage (up to the limit); false when memory is short.
  bool Grow() noexcept;
  static constexpr std::uint32_t kInline = 3;
  union {
    std::int64_t inline_[kInline];
    std::int64_t* heap_;
  };
  std::uint32_t limit_ = 0;  // max_failures
  std::uint32_t cap_ = 0;    // storage, <= limit_ past the inline slots
  std::uint32_t head_ = 0;
  std::uint32_t count_ = 0;
};


// Rate buckets for the failure-rate and slow-call rules.
struct Bucket {
  std::int64_t index;
  std::uint32_t calls, failures, slow;
};

  // What the rules remember once the breaker has failed or tripped: the
  // failure times of the window rule and when it last closed. Without it
  // (memory short) failures still count and the run and rate rules still
  // apply, but the window rule cannot see them.
  struct History {
    FailureRing ring;
    std::int64_t closed_since_ns = 0;  // backoff decay
    // The rate rules' buckets: the policy's window_buckets of them, made by
    // Configure (under the same lock as the policy's change) when a rate
    // rule is on, else null. 56 bytes in all: a 64-byte allocation.
    std::unique_ptr<Bucket[]> buckets;
  };

  static bool ConsecutiveFires(const Policy& p, std::int32_t run) noexcept {
    return p.options.consecutive_failures > 0 &&
           run >= p.options.consecutive_failures;
  }
  // The history, made if need be; null when memory is short.
  History* HistoryFor(const Policy& p) noexcept;
  // The window rule's part of Record for a failure.
  bool RecordWindowFailure(const Policy& p, std::int64_t now) noexcept;
  bool RecordRate(const Policy& p, std::int64_t now, bool failure,
                  bool slow) noexcept;
  static std::int64_t OpenPeriod(const Policy& p, int streak,
                                 std::uint64_t jitter_key) noexcept;

  // Made on the first failure or trip, or by Configure for the rate rules:
  // a peer that never fails keeps its entry to three cache lines.
  std::unique_ptr<History> history_;
  std::int32_t streak_ = 0;  // trips in a row
};

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_TRIP_RULES_H_
