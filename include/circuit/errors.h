// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: errors.h
// -----------------------------------------------------------------------------
//
// `CircuitOpenError` is thrown by `CircuitBreakerSet::context()` (and by
// `call()` for functions that do not return a status) when a peer's breaker
// rejects the call. The no-exception forms (`try_context()`, status-returning
// `call()`) report the same decision as `absl::StatusCode::kUnavailable`.
//
// Example:
//
//   try {
//     auto ctx = set.context(peer);
//     send(peer);
//   } catch (const circuit::CircuitOpenError& e) {
//     retry_later(e.peer(), e.retry_after());
//   }

#ifndef CIRCUIT_ERRORS_H_
#define CIRCUIT_ERRORS_H_

#include <stdexcept>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace circuit {

// CircuitOpenError
//
// A call to `peer()` was not attempted because its breaker is open, forced
// open, or half-open with every probe slot taken.
class CircuitOpenError : public std::runtime_error {
 public:
  CircuitOpenError(std::string_view peer, absl::Duration retry_after);

  // CircuitOpenError::peer()
  //
  // The rejected peer id.
  std::string_view peer() const noexcept { return peer_; }

  // CircuitOpenError::retry_after()
  //
  // How long until a probe may be admitted: the rest of the open period;
  // zero in half-open with every probe slot taken; `absl::InfiniteDuration()`
  // when forced open.
  absl::Duration retry_after() const noexcept { return retry_after_; }

 private:
  std::string peer_;
  absl::Duration retry_after_;
};

}  // namespace circuit

#endif  // CIRCUIT_ERRORS_H_
