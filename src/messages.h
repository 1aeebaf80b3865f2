// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The user-facing text the library builds in more than one place, defined
// once (src/vocabulary.cc).

#ifndef CIRCUIT_SRC_MESSAGES_H_
#define CIRCUIT_SRC_MESSAGES_H_

#include <string>
#include <string_view>

namespace circuit::internal {

// "circuit open for peer '<peer>'": the start of CircuitOpenError's message
// and the whole message of a rejection's kUnavailable status.
std::string OpenCircuitMessage(std::string_view peer);

// "concurrency limit reached for peer '<peer>': <limit> calls in flight
// (max_concurrent_calls)": ConcurrencyLimitError's message and a full
// bulkhead's kResourceExhausted status.
std::string ConcurrencyLimitMessage(std::string_view peer, int limit);

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_MESSAGES_H_
