// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: clock.h
// -----------------------------------------------------------------------------
//
// The time source of a `CircuitBreakerSet`. Every time the library measures
// (failure windows, open periods, slow calls) comes from one `Clock`, so tests
// replace it with a `ManualClock` and never sleep.
//
// Thread safety: `now()` may be called concurrently on every clock here;
// `ManualClock::advance()` may race with `now()`.
//
// Example:
//
//   circuit::ManualClock clock;
//   circuit::CircuitBreakerSet set({.clock = &clock});
//   clock.advance(absl::Seconds(10));

#ifndef CIRCUIT_CLOCK_H_
#define CIRCUIT_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace circuit {

// Clock
//
// An injectable time source. Implementations must be thread-safe. The library
// only compares and subtracts the times it reads, so any epoch will do, but
// time should not go backwards (a clock that does is tolerated: windows and
// open periods then simply last longer).
class Clock {
 public:
  virtual ~Clock() = default;

  // Clock::now()
  //
  // The current time.
  virtual absl::Time now() const = 0;
};

// MonotonicClock
//
// The default clock: `CLOCK_MONOTONIC`, expressed as an `absl::Time` whose
// epoch is the machine's boot. Unaffected by wall-clock changes.
class MonotonicClock final : public Clock {
 public:
  absl::Time now() const override;

  // MonotonicClock::instance()
  //
  // The process-wide instance used when `SetOptions::clock` is null.
  static const MonotonicClock& instance() noexcept;
};

// ManualClock
//
// A clock that moves only when told to: the time source for tests. Starts at
// `absl::UnixEpoch()` unless given another start.
class ManualClock final : public Clock {
 public:
  ManualClock() noexcept : ManualClock(absl::UnixEpoch()) {}
  explicit ManualClock(absl::Time start) noexcept
      : nanos_(absl::ToUnixNanos(start)) {}

  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;

  // ManualClock::advance()
  //
  // Moves the time forward by `d` (a negative `d` moves it back, which tests
  // of misbehaving clocks use).
  void advance(absl::Duration d) noexcept {
    nanos_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
  }

  // ManualClock::set()
  //
  // Sets the time to `t`.
  void set(absl::Time t) noexcept {
    nanos_.store(absl::ToUnixNanos(t), std::memory_order_release);
  }

  absl::Time now() const override {
    return absl::FromUnixNanos(nanos_.load(std::memory_order_acquire));
  }

 private:
  std::atomic<std::int64_t> nanos_;
};

}  // namespace circuit

#endif  // CIRCUIT_CLOCK_H_
