// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: context.h
// -----------------------------------------------------------------------------
//
// A `Context` is the RAII guard of one admitted call, returned by
// `CircuitBreakerSet::context()` / `try_context()` and `PeerHandle`. It
// records its call's outcome exactly once:
//
//   - `succeed()`, `fail()`, `fail(std::exception_ptr)`, `ignore()` and
//     `settle(absl::Status)` record it at once; later settles are no-ops.
//   - If nothing settled it, the destructor records a failure when an
//     exception is escaping the context's scope (`std::uncaught_exceptions()`
//     rose since the context was made) and a success otherwise.
//   - A moved-from context records nothing.
//   - The outcome is never lost to eviction: when the peer was dropped from
//     the set (`SetOptions::max_peers`, `idle_timeout`) while the call was in
//     flight, it is recorded on the peer's breaker as the set tracks it now,
//     tracking the peer again if need be.
//
// NOTE: a destructor cannot see the type of an exception that escapes its
// scope, so an escaping exception always counts as a failure, whatever
// `handle_error()` / `ignore_error()` say. For typed classification use
// `CircuitBreakerSet::call()`, or catch inside the scope and settle with
// `ctx.fail(std::current_exception())` (classified) or `ctx.ignore()`.
//
// Thread safety: a context may be moved to another thread and settled there
// (async completions). One context must not be used by two threads at once.
// REQUIRES: every context is destroyed before the set that made it.
//
// Example:
//
//   {
//     circuit::Context ctx = set.context(peer);  // throws CircuitOpenError
//     Reply r = client.send(peer, request);      // a throw here = failure
//     if (r.code == 503) ctx.fail();
//   }                                            // otherwise: success

#ifndef CIRCUIT_CONTEXT_H_
#define CIRCUIT_CONTEXT_H_

#include <cstdint>
#include <exception>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "circuit/internal/hot_path.h"

namespace circuit {

class CircuitBreakerSet;
class PeerHandle;

// Context
//
// See the file comment.
class Context {
 public:
  Context(Context&& other) noexcept;
  Context& operator=(Context&& other) noexcept;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Records the outcome if nothing did (see the file comment).
  ~Context();

  // Context::succeed()
  //
  // Records a success.
  void succeed() noexcept;

  // Context::fail()
  //
  // Records a counted failure.
  void fail() noexcept;

  // Context::fail(std::exception_ptr)
  //
  // Records the outcome of the exception `e` as the set classifies it:
  // ignored types are neither success nor failure, handled types (or every
  // type, with none registered) are failures, the rest successes.
  void fail(std::exception_ptr e) noexcept;

  // Context::ignore()
  //
  // Records neither success nor failure; a half-open probe slot is given back.
  void ignore() noexcept;

  // Context::settle()
  //
  // Records a success, or a failure when `status`'s code is one of
  // `SetOptions::failure_codes`.
  void settle(const absl::Status& status) noexcept;

  // Context::settled()
  //
  // Whether the outcome has been recorded (or the context was moved from).
  bool settled() const noexcept { return ticket_.breaker == nullptr; }

  // Context::probe()
  //
  // Whether this call holds a half-open probe slot.
  bool probe() const noexcept { return ticket_.probe; }

  // Context::peer()
  //
  // The peer id; empty once settled.
  std::string_view peer() const noexcept;

 private:
  friend class CircuitBreakerSet;
  friend class PeerHandle;

  // The guard of the call `ticket` admitted (the admission engine's
  // result); `uncaught` is the thread's std::uncaught_exceptions() now.
  // The fields are copied one by one, not as one struct: the ticket was
  // just written field by field, and a wide copy of it would wait for those
  // narrow stores (a store-forwarding stall on every admission).
  Context(internal::CoreHot* core, const internal::Ticket& ticket,
          int uncaught) noexcept
      : core_(core), uncaught_(uncaught) {
    ticket_.breaker = ticket.breaker;
    ticket_.generation = ticket.generation;
    ticket_.start_ns = ticket.start_ns;
    ticket_.pin = ticket.pin;
    ticket_.probe = ticket.probe;
  }
  Context(internal::CoreHot* core, const internal::Ticket& ticket) noexcept
      : Context(core, ticket, internal::UncaughtExceptions()) {}

  // Records `outcome` through the set's settle engine and releases the
  // context.
  void finish(internal::Outcome outcome) noexcept;
  // A success recorded inline when that is all there is to do (the settle
  // engine's first step); false otherwise, having done nothing.
  bool settle_plain_success(internal::ThreadHot* thread) noexcept;
  // The destructor's outcome: a failure when an exception is escaping.
  void settle_unsettled() noexcept;

  internal::CoreHot* core_ = nullptr;
  internal::Ticket ticket_;  // ticket_.breaker is null once settled
  int uncaught_ = 0;         // std::uncaught_exceptions() at birth
};

// Inline: every call moves and destroys a context, and most destroy an
// empty (moved-from or settled) one.
inline Context::Context(Context&& other) noexcept
    : core_(other.core_), ticket_(other.ticket_), uncaught_(other.uncaught_) {
  other.ticket_.breaker = nullptr;
}

// A probe needs no check of its own (see BreakerHot::IsPlainSuccess).
inline bool Context::settle_plain_success(
    internal::ThreadHot* thread) noexcept {
  if (!internal::SettlePlainSuccess(thread, core_, ticket_)) return false;
  ticket_.breaker = nullptr;
  return true;
}

// Inline: the destructor of a context that nothing settled records a
// success without calling into the library when it can. Always inlined
// (some 40 instructions at each site): as a call it costs a frame, and in a
// loop over many peers the fewer instructions per call, the more lookups'
// misses the processor overlaps.
[[gnu::always_inline]] inline Context::~Context() {
  if (ticket_.breaker != nullptr) {
    internal::ThreadHot* thread = internal::ThisThread();
    if (internal::UncaughtExceptions(thread) > uncaught_ ||
        !settle_plain_success(thread)) {
      settle_unsettled();
    }
  }
}

inline void Context::succeed() noexcept {
  if (ticket_.breaker != nullptr &&
      !settle_plain_success(internal::ThisThread())) {
    finish(internal::Outcome::kSuccess);
  }
}

}  // namespace circuit

#endif  // CIRCUIT_CONTEXT_H_
