// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The small pieces of arithmetic and hashing the library shares: times in
// int64 nanoseconds, saturated (a clock may return any absl::Time, even the
// infinities, and overflow is undefined behaviour), the clock read of the
// default clock, and the mixing functions.

#ifndef CIRCUIT_SRC_ARITH_H_
#define CIRCUIT_SRC_ARITH_H_

#include <time.h>

#include <cstdint>
#include <limits>
#include <string_view>

namespace circuit::internal {

inline constexpr std::int64_t kMaxNs = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t kMinNs = std::numeric_limits<std::int64_t>::min();

// a + b, clamped to [kMinNs, kMaxNs].
inline std::int64_t SatAdd(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kMaxNs : kMinNs;
  return r;
}

// a - b, clamped to [kMinNs, kMaxNs].
inline std::int64_t SatSub(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? kMaxNs : kMinNs;
  return r;
}

// a / b rounded towards negative infinity. REQUIRES: b > 0.
inline std::int64_t FloorDiv(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// ReadClockNs()
//
// `id`'s time in nanoseconds. For CLOCK_MONOTONIC it is the value the
// default clock (MonotonicClock) returns, as absl::ToUnixNanos of it: the
// set reads it directly, without building an absl::Time.
inline std::int64_t ReadClockNs(clockid_t id) noexcept {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Mix()
//
// splitmix64's finaliser: a well-mixed, deterministic 64-bit function of
// `x` (jitter of (seed, peer, trip), backoff draws).
inline std::uint64_t Mix(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// StableHash()
//
// FNV-1a: unlike absl::Hash (seeded per process), the same in every
// process, so a peer's jitter depends only on SetOptions::random_seed, the
// peer and the trip.
inline std::uint64_t StableHash(std::string_view key) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_ARITH_H_
