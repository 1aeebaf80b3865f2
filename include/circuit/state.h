// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: state.h
// -----------------------------------------------------------------------------
//
// The states a per-peer circuit breaker can be in, and their names.
//
//   closed     calls flow; failures are counted.
//   open       calls are rejected until the reset timeout has passed.
//   half-open  a bounded number of probe calls decide whether to close.
//   forced-open  rejects everything until `close()` (manual control).
//   disabled   admits everything and never trips until `close()`.
//
// Example:
//
//   std::cout << set.state("db-1");   // prints "closed"

#ifndef CIRCUIT_STATE_H_
#define CIRCUIT_STATE_H_

#include <cstdint>
#include <iosfwd>
#include <string_view>

namespace circuit {

// State
//
// The effective state of one peer's breaker.
enum class State : std::uint8_t {
  kClosed = 0,
  kOpen = 1,
  kHalfOpen = 2,
  kForcedOpen = 3,
  kDisabled = 4,
};

// state_name()
//
// Returns "closed", "open", "half-open", "forced-open" or "disabled". The
// view refers to static storage.
std::string_view state_name(State state) noexcept;

// Prints `state_name(state)`.
std::ostream& operator<<(std::ostream& os, State state);

}  // namespace circuit

#endif  // CIRCUIT_STATE_H_
