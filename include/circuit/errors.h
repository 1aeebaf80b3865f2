// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: errors.h
// -----------------------------------------------------------------------------
//
// The refusals. `CircuitBreakerSet::context()` (and `call()` for functions
// that do not return a status) throws one when a call to a peer is not
// attempted: `CircuitOpenError` when its breaker rejects it,
// `ConcurrencyLimitError` when its bulkhead is full
// (`BreakerOptions::max_concurrent_calls`). Both derive from
// `RejectedError`, so one handler catches every refusal. The no-exception
// forms (`try_context()`, status-returning `call()`) report the same
// decisions as `absl::StatusCode::kUnavailable` and
// `absl::StatusCode::kResourceExhausted`.
//
// Example:
//
//   try {
//     auto ctx = set.context(peer);
//     send(peer);
//   } catch (const circuit::CircuitOpenError& e) {
//     retry_later(e.peer(), e.retry_after());
//   } catch (const circuit::RejectedError& e) {
//     try_another_peer(e.peer());  // busy
//   }

#ifndef CIRCUIT_ERRORS_H_
#define CIRCUIT_ERRORS_H_

#include <stdexcept>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace circuit {

// RejectedError
//
// A call to `peer()` was not attempted. The base of every refusal.
class RejectedError : public std::runtime_error {
 public:
  RejectedError(std::string_view peer, const std::string& message);

  // RejectedError::peer()
  //
  // The refused peer id.
  std::string_view peer() const noexcept { return peer_; }

 private:
  std::string peer_;
};

// CircuitOpenError
//
// A call to `peer()` was not attempted because its breaker is open, forced
// open, or half-open with every probe slot taken.
class CircuitOpenError : public RejectedError {
 public:
  CircuitOpenError(std::string_view peer, absl::Duration retry_after);

  // CircuitOpenError::retry_after()
  //
  // How long until a probe may be admitted: the rest of the open period;
  // zero in half-open with every probe slot taken; `absl::InfiniteDuration()`
  // when forced open.
  absl::Duration retry_after() const noexcept { return retry_after_; }

 private:
  absl::Duration retry_after_;
};

// ConcurrencyLimitError
//
// A call to `peer()` was not attempted because `limit()` admitted calls of
// it were still unsettled (`BreakerOptions::max_concurrent_calls`). Not a
// failure: the breaker is unaffected.
class ConcurrencyLimitError : public RejectedError {
 public:
  ConcurrencyLimitError(std::string_view peer, int limit);

  // ConcurrencyLimitError::limit()
  //
  // The peer's `max_concurrent_calls` when the call was refused.
  int limit() const noexcept { return limit_; }

 private:
  int limit_;
};

}  // namespace circuit

#endif  // CIRCUIT_ERRORS_H_
