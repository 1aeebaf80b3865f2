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
// Lifetime: a set does not own its clock (`SetOptions::clock`); the clock
// must outlive the set, and is not read once the set's destructor returns.
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
//
// The ends of time. The library's time arithmetic saturates, so no reading
// breaks it, but every reading is taken at its word, and one of
// `absl::InfiniteFuture()` has lasting effects:
//   - a peer that trips on that reading is open until the end of time: when
//     the clock reads finite times again it stays open (rejecting every
//     call) until `close()` is called for it;
//   - idle eviction (`SetOptions::idle_timeout`) stops for the life of the
//     set: no later sweep is ever due after one at the end of time, so idle
//     peers are no longer dropped (the `max_peers` cap still holds).
// A clock that cannot read the time should return its last good reading,
// not an infinity.
class Clock {
 public:
  virtual ~Clock() = default;

  // Clock::now()
  //
  // The current time. Must not throw: the library reads the clock on paths
  // that cannot report an error (a context's destructor, `succeed()`,
  // `fail()`, all noexcept), where an exception calls `std::terminate()`.
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
