// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// One peer's breaker: the state machine of DESIGN.md section 2 and 2.1.
//
// It knows no map, no logging, no listeners and no store: (state, event,
// clock) in, decision and transition out, so tests drive it without threads
// or a set. Of its set it sees only what its policy carries: the open
// budget (max_open_fraction) that an automatic trip must find a place in.
//
// The state lives in one packed atomic word (state, probes in flight,
// generation). Admission while closed is a single acquire load of it, and a
// closed-state success with only the window rule on writes nothing but the
// success counter. Everything else (failures, transitions, probe outcomes)
// runs under the breaker's own 4-byte lock. The generation changes on every
// transition; an outcome carries the generation it was admitted under, and
// one from an earlier generation is "late": it is counted but does not move
// the state machine.
//
// A breaker dropped from its set is first retired (Retire): it takes a state
// value of its own (word::kRetired) and a new generation, and from then on
// nothing changes it. A call that still holds it settles on the peer's live
// breaker instead (Settled::retired), and an admission or a manual change
// that finds it looks the peer up again.

#ifndef CIRCUIT_SRC_BREAKER_H_
#define CIRCUIT_SRC_BREAKER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "circuit/clock.h"
#include "circuit/options.h"
#include "circuit/state.h"
#include "circuit/internal/hot_path.h"
#include "arith.h"
#include "counters.h"
#include "sync.h"
#include "trip_rules.h"

namespace circuit::internal {

// Transition
//
// What a call into the breaker changed, for the events layer.
struct Transition {
  std::int64_t open_for_ns = 0;  // to == kOpen: the open period chosen
  std::int64_t at_ns = 0;        // when (the set's clock; 0 when manual)
  bool happened = false;
  State from = State::kClosed;
  State to = State::kClosed;
  bool manual = false;           // asked for by open(), close(), ...
  // Nothing was done: the breaker is retired (apply it to the live one).
  bool retired = false;
};

// Decision
//
// The answer to an admission.
struct Decision {
  bool admitted = false;
  bool probe = false;
  std::uint64_t generation = 0;
  std::int64_t retry_after_ns = 0;  // when rejected; INT64_MAX: forced open
  Transition transition;            // open -> half-open on the first probe
  bool retired = false;  // neither admitted nor rejected: look the peer up again
};

// Settled
//
// The result of recording an outcome (or of an ejection).
struct Settled {
  Transition transition;
  // The time the settle read, or kUntimed when it read none.
  std::int64_t now_ns = kUntimed;
  bool late = false;  // admitted under an earlier generation
  // Not recorded: the breaker is retired, and the outcome belongs to the
  // peer's live breaker (as a late one when `late`: the call was admitted
  // before the retired breaker's last change).
  bool retired = false;
  // A trip was due and the open budget had no place for it: still closed.
  bool suppressed = false;
};

// How many latencies a peer keeps for the outlier latency rule.
inline constexpr int kLatencySamples = 64;

// IntervalCalls
//
// A peer's calls since the previous outlier evaluation (Breaker::TakeInterval).
struct IntervalCalls {
  std::uint64_t calls = 0;     // successes and counted failures
  std::uint64_t failures = 0;
  int samples = 0;             // latencies in `latency_ns` (newest last)
  std::int64_t latency_ns[kLatencySamples];
  State state = State::kClosed;
};

// A generation no breaker ever has: an outcome settled under it is late.
inline constexpr std::uint64_t kNoGeneration = ~std::uint64_t{0};

// Counters and state for snapshots.
struct BreakerView {
  State state = State::kClosed;
  int failures_in_window = 0;
  int consecutive_failures = 0;
  std::uint64_t successes = 0, failures = 0, ignored = 0, rejections = 0,
                trips = 0;
  int trips_in_a_row = 0;
  std::int64_t open_until_ns = 0;
  bool open_until_set = false;
  int probes_in_flight = 0;
  std::uint64_t ejections = 0, suppressed_trips = 0;
  int in_flight = 0;  // bulkhead slots taken
};

// The packed state word: [0,3) state, [3,19) probes in flight, [19,64)
// generation.

class Breaker : public BreakerHot {
 public:
  // `policy` must outlive the breaker (or be replaced through SetPolicy).
  // `peer_hash` spreads the jitter of different peers.
  Breaker(const Policy* policy, std::uint64_t peer_hash) noexcept;
  ~Breaker();
  Breaker(const Breaker&) = delete;
  Breaker& operator=(const Breaker&) = delete;

  // Breaker::Admit()
  //
  // Admits or rejects a call. Reads `clock` only when not closed. With
  // `dry_run`, decides the same without acting on it: no probe slot taken,
  // no transition, no rejection counted.
  Decision Admit(const Clock& clock, bool dry_run = false) noexcept;

  // The closed-state admission is BreakerHot::AdmitsClosed()
  // (circuit/internal/hot_path.h); when it fails, call Admit().

  // Breaker::RejectIfOpen()
  //
  // The common rejection, without the general Admit: when the breaker is
  // forced open, or open until after `now_ns + slack_ns` (the time is known
  // to within `slack_ns`), counts the rejection, sets `*retry_after_ns`
  // (from `now_ns`; INT64_MAX when forced open) and returns true.
  // Otherwise returns false having done nothing.
  bool RejectIfOpen(std::int64_t now_ns, std::int64_t slack_ns,
                    std::int64_t* retry_after_ns) noexcept {
    State s = word::StateOf(word_.load(std::memory_order_acquire));
    if (s == State::kForcedOpen) {
      *retry_after_ns = INT64_MAX;
    } else if (s == State::kOpen) {
      std::int64_t until = open_until_ns_.load(std::memory_order_acquire);
      if (now_ns >= SatSub(until, slack_ns)) return false;
      *retry_after_ns = SatSub(until, now_ns);
    } else {
      return false;
    }
    CountRejection();
    return true;
  }

  // The state word's state, without the open -> half-open reading (and
  // word::kRetired as it is).
  State RawState() const noexcept {
    return word::StateOf(word_.load(std::memory_order_acquire));
  }

  // Breaker::SettleClosedSuccess()
  //
  // When a success admitted under `generation` has nothing to do but be
  // counted (BreakerHot::IsPlainSuccess), counts it and returns true.
  // Otherwise returns false having done nothing: call Settle().
  bool SettleClosedSuccess(std::uint64_t generation) noexcept {
    if (!IsPlainSuccess(generation)) return false;
    CountSuccess();
    return true;
  }

  // The closed path of a peer with a bulkhead (and nothing else: no timing,
  // no rate rule, no failure run), which the ones above turn away.

  // Breaker::AdmitsClosedTakingSlot()
  //
  // When the breaker is closed or disabled, its calls need not be timed and
  // it has a bulkhead with a free slot: takes the slot, sets `*generation`
  // (with kHoldsSlot) and returns true. Otherwise returns false having done
  // nothing (a full bulkhead included: the general Admit refuses it).
  bool AdmitsClosedTakingSlot(std::uint64_t* generation) noexcept {
    std::uint64_t w = word_.load(std::memory_order_acquire);
    State s = word::StateOf(w);
    if ((s != State::kClosed && s != State::kDisabled) ||
        (fast() & (kTimesCalls | kBulkhead)) != kBulkhead ||
        !TryTakeSlot(SlotLimit())) {
      return false;
    }
    *generation = word::GenerationOf(w) | kHoldsSlot;
    return true;
  }

  // Breaker::SettleClosedSuccessWithSlot()
  //
  // As SettleClosedSuccess for a call admitted with a slot (`generation`
  // carries kHoldsSlot), giving the slot back.
  bool SettleClosedSuccessWithSlot(std::uint64_t generation) noexcept {
    // No failure run, and no fast bit but the bulkhead's (the limit aside).
    constexpr std::uint64_t kRunAndBits = 0xFFFFFFFFFFull;
    constexpr std::uint64_t kOnlyBulkhead = std::uint64_t{kBulkhead} << 32;
    if ((run_fast_.load(std::memory_order_relaxed) & kRunAndBits) !=
        kOnlyBulkhead) {
      return false;
    }
    std::uint64_t w = word_.load(std::memory_order_acquire);
    State s = word::StateOf(w);
    if (word::GenerationOf(w) != (generation & ~kHoldsSlot) ||
        (s != State::kClosed && s != State::kDisabled)) {
      return false;
    }
    CountSuccess();
    ReleaseSlot();
    return true;
  }

  // Breaker::Settle()
  //
  // Records the outcome of a call admitted under `generation`. `start_ns` is
  // read only by the slow-call rule (kUntimed: the call is not slow). On a
  // retired breaker records nothing and says so (Settled::retired).
  Settled Settle(std::uint64_t generation, bool probe, Outcome outcome,
                 std::int64_t start_ns, const Clock& clock) noexcept;

  // Breaker::Eject()
  //
  // Outlier ejection at `now_ns`: trips a closed breaker as its trip rules
  // would (open period with backoff, through the open budget, which may
  // suppress it). Does nothing to a breaker that is not closed; says so
  // when retired.
  Settled Eject(std::int64_t now_ns) noexcept;

  // Counts an ejection, or a detection when ejection is not enforced (lost
  // when there is no memory for the bookkeeping).
  void CountEjection() noexcept;

  // Breaker::TakeInterval()
  //
  // Fills `*out` with the calls since the previous TakeInterval (the first
  // one counts from the breaker's start) and starts a new interval. False
  // when there was no memory for the bookkeeping (the peer is then not
  // judged).
  bool TakeInterval(IntervalCalls* out) noexcept;

  // Bulkhead slots (BreakerOptions::max_concurrent_calls).
  // Takes one when fewer than `limit` are taken.
  bool TryTakeSlot(std::int32_t limit) noexcept {
    std::int32_t n = in_flight_.load(std::memory_order_relaxed);
    do {
      if (n >= limit) return false;
    } while (!in_flight_.compare_exchange_weak(n, n + 1,
                                               std::memory_order_acq_rel,
                                               std::memory_order_relaxed));
    return true;
  }
  void ReleaseSlot() noexcept {
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  }
  std::int32_t SlotsTaken() const noexcept {
    return in_flight_.load(std::memory_order_acquire);
  }
  // The bulkhead's limit (0: none).
  std::int32_t SlotLimit() const noexcept {
    const std::uint32_t l = slot_limit();
    return l != kLimitElsewhere ? static_cast<std::int32_t>(l)
                                : policy()->max_concurrent;
  }

  // Breaker::Retire()
  //
  // When the breaker is closed, retires it (see the file comment) and returns
  // true; otherwise returns false having done nothing. Takes the lock, so a
  // failure being settled either trips the breaker first (and it is not
  // retired) or finds it retired.
  bool Retire() noexcept;

  // Whether the breaker is retired.
  bool IsRetired() const noexcept {
    return (word_.load(std::memory_order_acquire) & word::kStateMask) ==
           word::kRetired;
  }

  // Breaker::ClosedGeneration()
  //
  // The current generation when the breaker is closed, else kNoGeneration:
  // what an outcome brought over from a retired breaker of the same peer is
  // settled under.
  std::uint64_t ClosedGeneration() const noexcept {
    std::uint64_t w = word_.load(std::memory_order_acquire);
    return word::StateOf(w) == State::kClosed ? word::GenerationOf(w)
                                              : kNoGeneration;
  }

  // Manual control. Each returns the transition it made (if any), or one
  // marked `retired` having done nothing.
  Transition Open(const Clock& clock) noexcept;
  Transition Close(const Clock& clock) noexcept;
  Transition HalfOpen() noexcept;
  Transition ForceOpen() noexcept;
  Transition Disable() noexcept;

  // Breaker::OpenUntil()
  //
  // Opens the breaker until `until_ns` (a decision taken elsewhere: the
  // fleet's, through a store), or extends an open period that ends sooner;
  // never shortens one. Forced-open and disabled breakers are left alone:
  // manual states are local decisions.
  Transition OpenUntil(std::int64_t until_ns, const Clock& clock) noexcept;

  // Breaker::Reclose()
  //
  // Closes an open or half-open breaker as a successful probe does (failure
  // history cleared, backoff kept); forced-open and disabled ones are left
  // alone.
  Transition Reclose(const Clock& clock) noexcept;

  // Breaker::SetPolicy()
  //
  // Switches to `policy`, resizing the failure history if there is one
  // (keeps the newest).
  // May throw std::bad_alloc, in which case nothing changed.
  void SetPolicy(const Policy* policy);

  // Breaker::SizeHistory()
  //
  // What SetPolicy does with the policy the breaker was made with, for a
  // breaker no other thread can reach yet: sizes the failure history, with
  // no lock. May throw std::bad_alloc.
  void SizeHistory() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    rules_.Configure(*policy());
  }

  // Counts a success in the calling thread's array: a hot peer's line is
  // not written by its successes (counters.h).
  void CountSuccess() noexcept {
    internal::CountSuccess(ThisThread(), this);
  }

  // Breaker::rejection_status()
  //
  // The status its owner keeps here for rejections (see
  // Entry::RejectionStatus), or null before KeepRejectionStatus. Kept in the
  // breaker, next to the open deadline and the rejection counter, so that a
  // rejection reads no further line; the breaker never looks at it.
  const absl::Status* rejection_status() const noexcept {
    if (!has_rejection_status_.load(std::memory_order_acquire)) return nullptr;
    return std::launder(reinterpret_cast<const absl::Status*>(rejection_status_));
  }
  // Keeps `status` unless one is kept already; returns the one kept.
  const absl::Status& KeepRejectionStatus(absl::Status status) noexcept;

  // Counts a rejection, in the calling thread's array too.
  void CountRejection() noexcept {
    ThreadCounts::CountRejection(count_id_, &rejections_);
  }

  // Breaker::EffectiveState()
  //
  // As DESIGN.md's `state()`: open past its timeout reads half-open, and a
  // retired breaker (closed when it was dropped) reads closed.
  State EffectiveState(const Clock& clock) const noexcept;

  // Whether the breaker is closed (the only state idle eviction may drop).
  bool IsClosed() const noexcept;

  BreakerView View(const Clock& clock) const noexcept;

  const Policy* policy() const noexcept {
    return policy_.load(std::memory_order_acquire);
  }

  // The leading bytes of a breaker that the closed path reads and writes.
  static constexpr std::size_t kHotBytes = 24;

  // Whether admissions need the clock to time the call.
  bool TimesCalls() const noexcept {
    return (fast() & kTimesCalls) != 0;
  }

 private:
  // What outlier detection keeps of a peer: the totals at the previous
  // evaluation and the newest latencies since (when the latency rule is
  // on). Made by the first evaluation or timed call that needs it.
  struct Judged {
    std::uint32_t ejections = 0;         // or detections
    std::uint32_t suppressed_trips = 0;  // by the open budget
    std::uint64_t successes_seen = 0, failures_seen = 0;
    std::unique_ptr<std::int64_t[]> latency;  // kLatencySamples, a ring
    std::uint32_t next = 0;                   // where the next one goes
    std::uint32_t count = 0;                  // since the evaluation
  };

  // `reserved`: the caller took a place in the open budget for this
  // transition (an automatic trip from closed).
  Transition TripLocked(std::int64_t now, State from, bool grow_streak,
                        bool reserved = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Times a call that started at `start_ns` when the policy times calls
  // (`fast`): the time now (kUntimed when not timed) and whether the call
  // was slow; keeps the latency for outlier detection.
  struct Timing {
    std::int64_t now = kUntimed;
    bool slow = false;
  };
  Timing TimeCall(std::uint8_t fast, Outcome outcome, std::int64_t start_ns,
                  const Clock& clock) noexcept {
    if ((fast & kTimesCalls) == 0 || outcome == Outcome::kIgnored ||
        start_ns == kUntimed) [[likely]] {
      return Timing{};
    }
    return TimeCallSlow(start_ns, clock);
  }
  Timing TimeCallSlow(std::int64_t start_ns, const Clock& clock) noexcept;
  // Counts a failure in the totals: under the lock a plain store, for every
  // writer of the count holds it then.
  void CountFailure() noexcept {
    SpinLockGuard lock(&mu_);
    CountFailureLocked();
  }
  void CountFailureLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    failures_.store(failures_.load(std::memory_order_relaxed) + 1,
                    std::memory_order_relaxed);
  }
  // Counts an outcome in the totals.
  void Count(Outcome outcome) noexcept {
    switch (outcome) {
      case Outcome::kSuccess:
        CountSuccess();
        break;
      case Outcome::kFailure:
        CountFailure();
        break;
      case Outcome::kIgnored:
        ignored_.fetch_add(1, std::memory_order_relaxed);
        break;
    }
  }
  // The outcome of a call to a closed breaker, at `now` (kUntimed: read
  // `clock` if a rule needs the time). Always inlined: Settle's common
  // case.
  ABSL_ATTRIBUTE_ALWAYS_INLINE Settled SettleClosedLocked(Outcome outcome,
                                                          bool slow,
                                                          std::int64_t now,
                                                          const Clock& clock)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The outcome of a half-open probe admitted under `generation`, into `*r`.
  void SettleProbeLocked(std::uint64_t generation, Outcome outcome,
                         std::int64_t now, Settled* r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An automatic trip of a closed breaker, through the open budget: fills
  // r->transition, or r->suppressed when the budget has no place.
  void TripFromClosedLocked(std::int64_t now, Settled* r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps the latency of a timed call for the outlier latency rule.
  void RecordLatency(std::int64_t latency_ns) noexcept;
  Judged* JudgedLocked(const Policy& p) noexcept ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The one close: history cleared, closed_since stamped; a manual close also
  // forgets the backoff.
  Transition CloseLocked(std::int64_t now, bool manual)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores the new word and counts the change in the open budget (unless
  // `reserved` did already).
  Transition SetWordLocked(State to, std::uint32_t probes,
                           bool reserved = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Bits of `fast_`: what the closed path needs to know of the policy,
  // without loading it.
  static std::uint32_t FastBits(const Policy* p) noexcept {
    return FastWord(
        static_cast<std::uint8_t>((p->times_calls ? kTimesCalls : 0) |
                                  (p->rate_rules ? kRateRules : 0) |
                                  (p->max_concurrent > 0 ? kBulkhead : 0)),
        p->max_concurrent);
  }

  friend void abi_v1::CountSuccessSlow(BreakerHot* b) noexcept;

  // The hot fields come first, in BreakerHot: with the entry's hash and key
  // they fill one cache line (Entry in peer_table.h), and an admission plus
  // a closed-state success touch nothing else of the breaker.

  // ---- Read when not closed, on failures, and by the bulkhead. Counters
  // are atomic: read by snapshots without the lock.
  std::atomic<const Policy*> policy_;
  std::atomic<std::int64_t> open_until_ns_{0};  // written under mu_
  std::atomic<std::uint64_t> rejections_{0};  // spill (counters.h)
  // The rejection status, once `has_rejection_status_` (set once, under
  // mu_, and read with acquire).
  alignas(absl::Status) unsigned char rejection_status_[sizeof(absl::Status)];
  std::atomic<std::uint64_t> successes_{0};  // spill (counters.h)
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> ignored_{0};
  // Read with the status: kept on the same line.
  std::atomic<bool> has_rejection_status_{false};

  // ---- Protected by mu_ (packed: with the hash, the key and the table's
  // fields, an entry is three cache lines).
  mutable SpinLock mu_;
  std::int32_t half_open_successes_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<std::uint32_t> trips_{0};
  std::uint64_t peer_hash_;  // constant
  TripRules rules_ ABSL_GUARDED_BY(mu_);
  // Set-level judgement (outlier bookkeeping, ejections and suppressed
  // trips), made when first needed.
  std::unique_ptr<Judged> judged_ ABSL_GUARDED_BY(mu_);
};

// Time as int64 nanoseconds, the breaker's unit.
inline std::int64_t ToNanos(absl::Time t) { return absl::ToUnixNanos(t); }
inline absl::Time FromNanos(std::int64_t ns) { return absl::FromUnixNanos(ns); }

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_BREAKER_H_
