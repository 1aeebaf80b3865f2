// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: breaker_set.h
// -----------------------------------------------------------------------------
//
// A `circuit::CircuitBreakerSet` keeps one circuit breaker per peer id. It
// creates a peer's breaker the first time the peer is named, counts that
// peer's failures in a sliding window, and hands out `Context` guards that
// admit or reject a call and record its outcome when their scope ends. A
// peer that keeps failing is rejected until its reset timeout has passed;
// then a few probe calls decide whether it closes again.
//
// Two channels report what happened, and a caller handles both:
//   - refusal ("not attempted") is a `RejectedError` from `context()`:
//     `CircuitOpenError` when the circuit is open, `ConcurrencyLimitError`
//     when the peer's bulkhead is full; or `kUnavailable` /
//     `kResourceExhausted` from `try_context()` and from `call()` of a
//     status-returning function;
//   - the caller's own failure ("attempted, and it failed") is whatever the
//     caller's code threw or returned, passed through unchanged.
//
// Thread safety: every public member function may be called concurrently.
// REQUIRES: contexts and handles are destroyed before their set.
//
// Lifetimes: what the set was given (listeners, `options_for` and what it
// captures, the store) is released by the time its destructor returns, on
// the thread that destroys it; the clock is not read after that.
//
// The set also judges its peers together (DESIGN.md 2.3): it can cap how
// many are open at once (`SetOptions::max_open_fraction`), eject the ones
// much worse or slower than the rest (`OutlierOptions`,
// `evaluate_outliers()`) and bound each peer's calls in flight
// (`BreakerOptions::max_concurrent_calls`).
//
// fork(): a set made in a child process works normally. A set made before
// fork() may be used in the child too; if another thread of the parent
// held one of its locks at that moment, the call that needs that lock
// fails at once instead of waiting for ever: a line on stderr names the
// problem, and the call throws std::logic_error or, where it cannot (a
// breaker's own bookkeeping, settling a context), the process aborts. In
// the child, only contexts of the forking thread may be settled: those of
// other threads are abandoned. What the set calls (logger, listeners,
// store, clock) must itself be usable in the child.
//
// Example:
//
//   circuit::CircuitBreakerSet set;
//   try {
//     auto ctx = set.context("10.0.0.7:443");
//     send_request("10.0.0.7:443");       // a throw here counts as a failure
//   } catch (const circuit::CircuitOpenError& e) {
//     // not attempted: e.peer() is open for another e.retry_after()
//   }

#ifndef CIRCUIT_BREAKER_SET_H_
#define CIRCUIT_BREAKER_SET_H_

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/context.h"
#include "circuit/errors.h"
#include "circuit/listener.h"
#include "circuit/options.h"
#include "circuit/state.h"

namespace circuit {

class PeerHandle;
struct PeerSnapshot;
struct Pick;
template <class Pred>
struct FailsWhen;

namespace internal {
class SetCore;
template <class T>
inline constexpr bool kIsFailsWhen = false;
template <class P>
inline constexpr bool kIsFailsWhen<FailsWhen<P>> = true;
}  // namespace internal

// CircuitBreakerSet
//
// See the file comment.
class CircuitBreakerSet {
 public:
  // Throws `std::invalid_argument` with `options.validate()`'s message when
  // the options are bad.
  explicit CircuitBreakerSet(SetOptions options = {});

  CircuitBreakerSet(const CircuitBreakerSet&) = delete;
  CircuitBreakerSet& operator=(const CircuitBreakerSet&) = delete;

  ~CircuitBreakerSet();

  // ---------------------------------------------------------------------
  // Admission

  // CircuitBreakerSet::context()
  //
  // Admits a call to `peer` (creating its breaker on first use) and returns
  // its guard, or throws `CircuitOpenError` when the breaker rejects it and
  // `ConcurrencyLimitError` when its bulkhead is full. Throws
  // `std::invalid_argument` when `peer` is empty or longer than
  // `SetOptions::max_peer_id_bytes`.
  Context context(std::string_view peer);

  // CircuitBreakerSet::try_context()
  //
  // The same decision without exceptions: `kUnavailable` naming the peer
  // when rejected, `kResourceExhausted` naming the peer when its bulkhead is
  // full, `kInvalidArgument` for a bad peer id.
  absl::StatusOr<Context> try_context(std::string_view peer);

  // CircuitBreakerSet::call()
  //
  // Runs `fn()` under a context of `peer` and records its outcome:
  //   - what `fn` throws is classified by `handle_error()` /
  //     `ignore_error()` and rethrown unchanged (the same object);
  //   - an `absl::Status` / `absl::StatusOr<T>` result is classified by
  //     `SetOptions::failure_codes`, and a refusal is returned as its status
  //     (`kUnavailable`, `kResourceExhausted`) instead of thrown;
  //   - any other result is a success (see the `FailsWhen` overloads).
  // Returns what `fn` returned. Throws the `RejectedError` of the refusal
  // when `fn` does not return a status.
  template <class F>
  auto call(std::string_view peer, F&& fn);

  // CircuitBreakerSet::call(peer, fn, fallback)
  //
  // As `call(peer, fn)`, but when the call is refused returns `fallback()`,
  // or `fallback(e)` with the refusal `e` (a `CircuitOpenError` or a
  // `ConcurrencyLimitError`) when the fallback takes it. A fallback that
  // takes only `const CircuitOpenError&` is not called for a full bulkhead:
  // that refusal is then reported as without a fallback. The fallback's
  // result must convert to `fn`'s.
  template <class F, class Fallback>
    requires(!internal::kIsFailsWhen<std::decay_t<Fallback>>)
  auto call(std::string_view peer, F&& fn, Fallback&& fallback);

  // CircuitBreakerSet::call(peer, fn, fails_when(pred) [, fallback])
  //
  // As above, but a result `r` for which `pred(r)` is true is recorded as a
  // failure (and still returned). For status results the predicate replaces
  // the code classification.
  template <class F, class Pred>
  auto call(std::string_view peer, F&& fn, FailsWhen<Pred> fails);
  template <class F, class Pred, class Fallback>
  auto call(std::string_view peer, F&& fn, FailsWhen<Pred> fails,
            Fallback&& fallback);

  // CircuitBreakerSet::handle()
  //
  // A handle to `peer`'s breaker (created if needed) that skips the lookup.
  // Throws `std::invalid_argument` for a bad peer id.
  PeerHandle handle(std::string_view peer);

  // ---------------------------------------------------------------------
  // Classification

  // CircuitBreakerSet::handle_error()
  //
  // From now on only exceptions of type `E` (or derived from it), plus any
  // other handled types, count as failures; other exceptions count as
  // successes. With none registered, every exception counts. Applies to
  // existing and future peers.
  template <class E>
  void handle_error();

  // CircuitBreakerSet::ignore_error()
  //
  // Exceptions of type `E` (or derived) are neither success nor failure. Wins
  // over `handle_error()`.
  template <class E>
  void ignore_error();

  // ---------------------------------------------------------------------
  // Manual control (pybreaker names). Each creates the peer if needed and
  // throws `std::invalid_argument` for a bad peer id.

  // Opens `peer`'s breaker now, for its current open period.
  void open(std::string_view peer);

  // Closes `peer`'s breaker and clears its failure history and backoff.
  // Also ends `force_open()` and `disable()`.
  void close(std::string_view peer);

  // Moves `peer`'s breaker to half-open with every probe slot free.
  void half_open(std::string_view peer);

  // Rejects every call to `peer` until `close()` (`State::kForcedOpen`).
  void force_open(std::string_view peer);

  // Admits every call to `peer` and never trips until `close()`
  // (`State::kDisabled`).
  void disable(std::string_view peer);

  // CircuitBreakerSet::configure()
  //
  // Gives `peer` its own policy, now and whenever it is created again.
  // Throws `std::invalid_argument` with `options.validate()`'s message when
  // the options are bad. The breaker keeps its state; a smaller window
  // keeps the newest failures.
  void configure(std::string_view peer, const BreakerOptions& options);

  // ---------------------------------------------------------------------
  // Observers

  // CircuitBreakerSet::state()
  //
  // The effective state now, without admitting anything and without creating
  // the peer: an unknown peer reads `kClosed`; an open breaker whose reset
  // timeout has passed reads `kHalfOpen`.
  // NOTE: the state may have changed by the time you read it.
  State state(std::string_view peer) const;

  // CircuitBreakerSet::snapshot()
  //
  // One peer's counters and state, or `std::nullopt` for an unknown peer;
  // and every tracked peer's.
  std::optional<PeerSnapshot> snapshot(std::string_view peer) const;
  std::vector<PeerSnapshot> snapshot() const;

  // CircuitBreakerSet::size()
  //
  // Peers currently tracked.
  std::size_t size() const;

  // CircuitBreakerSet::evaluate_outliers()
  //
  // Runs one outlier evaluation now (see `OutlierOptions`) over the calls
  // settled since the previous one, and returns how many peers it ejected
  // (with `OutlierOptions::enforce` false: would have ejected). An ejection
  // suppressed by `max_open_fraction` is not counted. The next automatic
  // evaluation is due one `interval` from now. Returns 0 when every rule is
  // off.
  std::size_t evaluate_outliers();

  // CircuitBreakerSet::sweep()
  //
  // Drops the closed peers idle for longer than `SetOptions::idle_timeout`
  // (also done as new peers arrive, and by `size()` and `snapshot()`).
  // Returns how many it dropped.
  std::size_t sweep();

  // CircuitBreakerSet::add_listener()
  //
  // Adds a listener for every peer. Not removable; the set keeps it alive.
  void add_listener(std::shared_ptr<Listener> listener);

  // CircuitBreakerSet::prometheus_text()
  //
  // Every tracked peer in the Prometheus text exposition format (version
  // 0.0.4): `circuit_state` (a gauge per peer and state), the counters
  // `circuit_calls_total`, `circuit_failures_total`,
  // `circuit_rejections_total`, `circuit_trips_total`,
  // `circuit_ejections_total`, `circuit_suppressed_trips_total`, and the
  // gauge `circuit_in_flight`. `prefix` replaces "circuit" in the metric
  // names.
  //
  // The `peer` label: peer ids are bytes, label values are UTF-8, and two
  // peers must never share a series. So the label value keeps valid UTF-8
  // as it is, except that a backslash is written `\\`, and writes each byte
  // that is not part of strictly valid UTF-8 as `\xHH` (upper-case hex):
  // the id "db" + byte 0xFF gives `db\xFF`, the id `db\xFF` (a literal
  // backslash) gives `db\\xFF`, and "sérvice-ü" stays as it is. Every
  // backslash starts one of these two escapes, so each label value stands
  // for exactly one peer id. The text format then escapes the value once
  // more (a backslash as `\\`, a double quote as `\"`, a newline as `\n`):
  // the line for "db" + byte 0xFF reads `peer="db\\xFF"`.
  // `PrometheusCollectable` uses the same label values.
  std::string prometheus_text(std::string_view prefix = "circuit") const;

  // ---------------------------------------------------------------------
  // Pools: picking a peer without wasting probes

  // CircuitBreakerSet::would_admit()
  //
  // Whether `context(peer)` would admit a call now, without admitting
  // anything: no probe slot is taken, no rejection is counted, no listener
  // is called, and an unknown peer is not created (it reads `true`). A bad
  // peer id reads `false`. Closed and disabled breakers read `true`; open
  // and forced-open ones `false`, except an open breaker whose reset timeout
  // has passed, which reads `true` like a half-open one with a free probe
  // slot. A full bulkhead reads `false`.
  // NOTE: advisory; another thread may take the last probe slot before you
  // act. To reserve a peer, use `first_admitting()` or `try_context()`.
  bool would_admit(std::string_view peer) const;

  // CircuitBreakerSet::first_admitting()
  //
  // Admits a call to the first peer of `peers`, starting at index
  // `start % peers.size()` and wrapping around, whose breaker admits it, and
  // returns its index and context; `std::nullopt` when none admits (or
  // `peers` is empty). Peers that `would_admit()` says no to are skipped
  // without counting a rejection; a half-open probe slot is taken
  // atomically, so two pickers racing for a peer's last probe slot never
  // both get it (the loser moves on to the next candidate). Bad peer ids are
  // skipped. Pass a rotating `start` for round-robin.
  std::optional<Pick> first_admitting(std::span<const std::string_view> peers,
                                      std::size_t start = 0);
  std::optional<Pick> first_admitting(std::span<const std::string> peers,
                                      std::size_t start = 0);
  // The same over handles (empty handles are skipped), without lookups.
  static std::optional<Pick> first_admitting(
      std::span<const PeerHandle> peers, std::size_t start = 0);

 private:
  friend class PeerHandle;
  struct Admission;

  // Admits or refuses without throwing (the engine under every form); with
  // `want_status`, a refusal carries its status.
  Admission admit(std::string_view peer, bool want_status);
  // Throws std::invalid_argument for a bad peer id, else the refusal's
  // RejectedError.
  [[noreturn]] static void throw_rejection(const Admission& a);

  // Classification hooks behind the templates.
  using Matcher = bool (*)(const std::exception_ptr&);
  void add_matcher(Matcher m, bool ignore);
  bool status_is_failure(const absl::Status& s) const noexcept;

  template <class F, class Pred, class Fallback>
  auto call_impl(std::string_view peer, F&& fn, const Pred* pred,
                 Fallback* fallback);

  std::unique_ptr<internal::SetCore> core_;
};


// PeerSnapshot
//
// One peer's breaker, as `CircuitBreakerSet::snapshot()` saw it.
struct PeerSnapshot {
  std::string peer;
  State state = State::kClosed;           // effective state (as state())
  int failures_in_window = 0;  // window-rule failures now in the window;
                               // exact up to max_failures (the history
                               // keeps no more than the rule needs)
  int consecutive_failures = 0;           // the current run of failures
  std::uint64_t calls = 0;                // admitted calls with an outcome
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;             // counted failures
  std::uint64_t ignored = 0;
  std::uint64_t rejections = 0;
  std::uint64_t trips = 0;                // transitions into kOpen
  int trips_in_a_row = 0;                 // drives the backoff
  absl::Time open_until = absl::InfinitePast();  // end of the open period
  int probes_in_flight = 0;
  std::uint64_t ejections = 0;        // by outlier detection (detections
                                      // when OutlierOptions::enforce is off)
  std::uint64_t suppressed_trips = 0;  // by SetOptions::max_open_fraction
  // Calls admitted and not yet settled: exact while max_concurrent_calls is
  // on; otherwise the probes in flight (closed calls are not counted then,
  // which keeps the closed path free of shared writes).
  int in_flight = 0;
};

// PeerHandle
//
// A cheap, copyable handle to one peer's breaker that skips the lookup, for
// pools that hold a connection per peer. The peer is never dropped from the
// set while a handle to it exists. A default-constructed handle is empty and
// must not be used.
// REQUIRES: handles are destroyed before their set.
class PeerHandle {
 public:
  PeerHandle() noexcept = default;
  PeerHandle(const PeerHandle& other) noexcept;
  PeerHandle& operator=(const PeerHandle& other) noexcept;
  PeerHandle(PeerHandle&& other) noexcept;
  PeerHandle& operator=(PeerHandle&& other) noexcept;
  ~PeerHandle();

  // As `CircuitBreakerSet::context(peer())`, without the lookup. Inline: a
  // closed peer is admitted without calling into the library.
  Context context() const;

  // As `CircuitBreakerSet::try_context(peer())`, without the lookup.
  absl::StatusOr<Context> try_context() const;

  // As `CircuitBreakerSet::state(peer())`.
  State state() const;

  // As `CircuitBreakerSet::would_admit(peer())`.
  bool would_admit() const;

  // The peer id.
  std::string_view peer() const noexcept;

  explicit operator bool() const noexcept { return breaker_ != nullptr; }

 private:
  friend class CircuitBreakerSet;
  PeerHandle(internal::CoreHot* core, internal::BreakerHot* breaker) noexcept;

  // context() past the admission engine's first step.
  Context context_slow() const;

  internal::CoreHot* core_ = nullptr;  // the set's internal::SetCore
  internal::BreakerHot* breaker_ = nullptr;
};

// The admission engine's first step, inline (circuit/internal/hot_path.h).
// Always inlined: out of line, the call and the return of the Context
// through memory cost more than the step itself.
[[gnu::always_inline]] inline Context PeerHandle::context() const {
  // Read once, before the pin: its fence would make the compiler read the
  // handle's fields again.
  internal::CoreHot* const core = core_;
  internal::Ticket ticket;
  ticket.breaker = breaker_;
  if (internal::AdmitsPlainly(core, ticket.breaker, &ticket.generation))
      [[likely]] {
    internal::ThreadHot* thread = internal::ThisThread();
    const int uncaught = internal::UncaughtExceptions(thread);
    ticket.pin = internal::EpochPin(thread);
    return Context(core, ticket, uncaught);
  }
  return context_slow();
}

// FailsWhen
//
// Wraps a predicate over a call's result that says whether the result is a
// failure (rgunther30's validation_func, resilience4j's result predicate).
// Make one with `fails_when()` and pass it to `call()`.
template <class Pred>
struct FailsWhen {
  Pred pred;
};

// fails_when()
//
//   set.call(peer, [&] { return http.get(url); },
//            circuit::fails_when([](const Response& r) { return r.code >= 500; }));
template <class Pred>
FailsWhen<std::decay_t<Pred>> fails_when(Pred&& pred) {
  return {std::forward<Pred>(pred)};
}

// Pick
//
// What `CircuitBreakerSet::first_admitting()` chose: the index of the peer
// among the candidates, and the admitted call's context (which holds a
// half-open probe slot when `context.probe()`).
struct Pick {
  std::size_t index;
  Context context;
};

}  // namespace circuit

#include "circuit/internal/call_impl.h"  // IWYU pragma: export

#endif  // CIRCUIT_BREAKER_SET_H_
