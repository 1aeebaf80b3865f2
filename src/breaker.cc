// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "breaker.h"

#include <algorithm>
#include <cstddef>
#include <new>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "arith.h"

namespace circuit::internal {
namespace {

bool Retired(std::uint64_t w) {
  return (w & word::kStateMask) == word::kRetired;
}

// What settling on a retired breaker whose word is `w` returns to a call
// admitted under `generation`: the retire made the generation after it.
Settled OnRetired(std::uint64_t w, std::uint64_t generation) {
  Settled r;
  r.retired = true;
  r.late = generation + 1 != word::GenerationOf(w);
  return r;
}

// Stamps `t` with its time and whether it was asked for (the events layer
// coalesces the log lines of a flapping peer by it).
void Stamp(Transition& t, std::int64_t now, bool manual) {
  t.at_ns = now;
  t.manual = manual;
}

Transition RetiredTransition() {
  Transition t;
  t.retired = true;
  return t;
}

// The states that count in the open budget.
bool Occupies(State s) {
  return s == State::kOpen || s == State::kHalfOpen || s == State::kForcedOpen;
}

}  // namespace

// ---------------------------------------------------------------------------
// Breaker

Breaker::Breaker(const Policy* policy, std::uint64_t peer_hash) noexcept
    : BreakerHot(word::Make(State::kClosed, 0, 0), ThreadCounts::AcquireId(),
                 FastBits(policy)),
      policy_(policy),
      peer_hash_(peer_hash) {}

Breaker::~Breaker() {
  static_assert(sizeof(BreakerHot) <= kHotBytes,
                "the hot fields must stay first (see Entry)");
  ThreadCounts::ReleaseId(count_id_);
  if (has_rejection_status_.load(std::memory_order_acquire)) {
    std::launder(reinterpret_cast<absl::Status*>(rejection_status_))->~Status();
  }
}

const absl::Status& Breaker::KeepRejectionStatus(absl::Status status) noexcept {
  auto* stored = std::launder(reinterpret_cast<absl::Status*>(rejection_status_));
  SpinLockGuard lock(&mu_);
  if (!has_rejection_status_.load(std::memory_order_relaxed)) {
    new (rejection_status_) absl::Status(std::move(status));
    has_rejection_status_.store(true, std::memory_order_release);
  }
  return *stored;
}

// Declared in circuit/internal/hot_path.h, in its ABI namespace.
inline namespace abi_v1 {
void CountSuccessSlow(BreakerHot* b) noexcept {
  ThreadCounts::CountSuccessSlow(b->count_id_,
                                 &static_cast<Breaker*>(b)->successes_);
}
}  // namespace abi_v1

void Breaker::SetPolicy(const Policy* policy) {
  SpinLockGuard lock(&mu_);
  rules_.Configure(*policy);
  policy_.store(policy, std::memory_order_release);
  set_fast(FastBits(policy));
}

Decision Breaker::Admit(const Clock& clock, bool dry_run) noexcept {
  std::uint64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    State s = word::StateOf(w);
    if (s == State::kClosed || s == State::kDisabled) [[likely]] {
      Decision d;
      d.admitted = true;
      d.generation = word::GenerationOf(w);
      return d;
    }
    if (s == State::kForcedOpen) {
      if (!dry_run) CountRejection();
      Decision d;
      d.retry_after_ns = kMaxNs;
      return d;
    }
    if (Retired(w)) [[unlikely]] {
      Decision d;
      d.retired = true;
      return d;
    }
    if (s == State::kOpen) {
      std::int64_t now = ToNanos(clock.now());
      std::int64_t until = open_until_ns_.load(std::memory_order_acquire);
      if (now < until) {
        if (!dry_run) CountRejection();
        Decision d;
        d.retry_after_ns = SatSub(until, now);
        return d;
      }
      // The open period is over: the first caller here becomes a probe.
      Decision d;
      if (dry_run) {
        d.admitted = d.probe = true;
        return d;
      }
      {
        SpinLockGuard lock(&mu_);
        std::uint64_t current = word_.load(std::memory_order_relaxed);
        if (current != w) {
          w = current;
          continue;
        }
        half_open_successes_ = 0;
        d.transition = SetWordLocked(State::kHalfOpen, 1);
        Stamp(d.transition, now, /*manual=*/false);
        w = word_.load(std::memory_order_relaxed);
      }
      d.admitted = true;
      d.probe = true;
      d.generation = word::GenerationOf(w);
      return d;
    }
    // Half-open: take a probe slot if one is free.
    auto max_probes =
        static_cast<std::uint32_t>(policy()->options.half_open_max_calls);
    if (word::ProbesOf(w) >= max_probes) {
      if (!dry_run) CountRejection();
      return Decision{};
    }
    if (dry_run) {
      Decision d;
      d.admitted = d.probe = true;
      d.generation = word::GenerationOf(w);
      return d;
    }
    if (word_.compare_exchange_weak(w, w + (1ull << word::kProbeShift),
                                    std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      Decision d;
      d.admitted = true;
      d.probe = true;
      d.generation = word::GenerationOf(w);
      return d;
    }
  }
}

Settled Breaker::Settle(std::uint64_t generation, bool probe, Outcome outcome,
                        std::int64_t start_ns, const Clock& clock) noexcept {
  std::uint64_t w = word_.load(std::memory_order_acquire);
  if (Retired(w)) [[unlikely]] return OnRetired(w, generation);
  // The policy itself is loaded only off the closed success path. `now`
  // stays kUntimed until something needs the time.
  const std::uint8_t fast = this->fast();
  const Timing timing = TimeCall(fast, outcome, start_ns, clock);
  std::int64_t now = timing.now;
  const bool slow = timing.slow;
  const bool failure = outcome == Outcome::kFailure;
  // A failure is counted under the lock (CountFailureLocked): it takes the
  // lock anyway, and there a plain store does what a locked add would.
  if (!failure) Count(outcome);
  w = word_.load(std::memory_order_acquire);
  if (word::GenerationOf(w) != generation) {
    if (Retired(w)) return OnRetired(w, generation);
    if (failure) CountFailure();
    return Settled{.transition = {}, .now_ns = now, .late = true};
  }
  State s = word::StateOf(w);
  // Disabled, ignored while closed, or a closed success with no failure run
  // to reset and no rate rule to count it: nothing to record.
  const bool closed_rules_off = s == State::kClosed && (fast & kRateRules) == 0;
  if (s == State::kDisabled ||
      (s == State::kClosed && outcome == Outcome::kIgnored) ||
      (closed_rules_off && outcome == Outcome::kSuccess && consecutive() == 0)) {
    if (failure) CountFailure();
    Settled plain;
    plain.now_ns = now;
    return plain;
  }
  // Closed without rate rules, an outcome needs the time only for the
  // window rule or a trip: SettleClosedLocked reads it when it does.
  if (now == kUntimed && !closed_rules_off) now = ToNanos(clock.now());

  SpinLockGuard lock(&mu_);
  w = word_.load(std::memory_order_relaxed);
  if (word::GenerationOf(w) != generation) {
    // Retired since the check above: the outcome counted here is dropped
    // with the breaker, and recorded on the live one.
    if (Retired(w)) return OnRetired(w, generation);
    if (failure) CountFailureLocked();
    return Settled{.transition = {}, .now_ns = now, .late = true};
  }
  if (failure) CountFailureLocked();
  s = word::StateOf(w);
  if (s == State::kClosed) [[likely]] {
    return SettleClosedLocked(outcome, slow, now, clock);
  }
  if (now == kUntimed) now = ToNanos(clock.now());  // no longer closed
  Settled r;
  r.now_ns = now;
  if (s == State::kHalfOpen && probe) SettleProbeLocked(generation, outcome, now, &r);
  return r;
}

Breaker::Timing Breaker::TimeCallSlow(std::int64_t start_ns,
                                      const Clock& clock) noexcept {
  Timing t;
  t.now = ToNanos(clock.now());
  const Policy& p = *policy();
  const std::int64_t took = SatSub(t.now, start_ns);
  if (p.records_latency) RecordLatency(took);
  t.slow = p.slow_ns > 0 && took > p.slow_ns;
  return t;
}


inline Settled Breaker::SettleClosedLocked(Outcome outcome, bool slow,
                                           std::int64_t now,
                                           const Clock& clock) {
  const Policy& p = *policy();  // may have been reconfigured since admission
  const bool failure = outcome == Outcome::kFailure;
  const std::int32_t run = failure ? consecutive() + 1 : 0;
  set_consecutive(run);
  Settled r;
  if (now == kUntimed && TripRules::NeedsTime(p, failure, run)) {
    now = ToNanos(clock.now());
  }
  r.now_ns = now;
  if (rules_.Record(p, now, failure, slow, run)) [[unlikely]] {
    TripFromClosedLocked(now, &r);
  }
  return r;
}

void Breaker::SettleProbeLocked(std::uint64_t generation, Outcome outcome,
                                std::int64_t now, Settled* r) {
  if (outcome == Outcome::kFailure) {
    r->transition = TripLocked(now, State::kHalfOpen, /*grow_streak=*/true);
    Stamp(r->transition, now, /*manual=*/false);
    return;
  }
  if (outcome == Outcome::kSuccess &&
      ++half_open_successes_ >= policy()->options.half_open_successes) {
    r->transition = CloseLocked(now, /*manual=*/false);
    return;
  }
  // Give the probe slot back (admissions CAS the word without the lock).
  std::uint64_t cur = word_.load(std::memory_order_relaxed);
  while (word::GenerationOf(cur) == generation && word::ProbesOf(cur) > 0 &&
         !word_.compare_exchange_weak(cur, cur - (1ull << word::kProbeShift),
                                      std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
  }
}

Transition Breaker::SetWordLocked(State to, std::uint32_t probes,
                                  bool reserved) {
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  Transition t;
  t.from = word::StateOf(w);
  t.to = to;
  t.happened = t.from != to;
  if (OpenBudget* budget = policy()->budget) {
    const bool was = Occupies(t.from), is = Occupies(to);
    if (was != is) {
      if (!(is && reserved)) budget->Add(is ? 1 : -1);
    } else if (reserved) {
      budget->Add(-1);  // the place taken is not needed after all
    }
  }
  // A plain store: a probe admission racing with it CASes against the old
  // word and fails, or succeeded under the old generation and is now late.
  word_.store(word::Make(to, probes, word::GenerationOf(w) + 1),
              std::memory_order_release);
  return t;
}

void Breaker::TripFromClosedLocked(std::int64_t now, Settled* r) {
  OpenBudget* budget = policy()->budget;
  if (budget != nullptr && !budget->TryTake()) {
    if (Judged* j = JudgedLocked(*policy())) ++j->suppressed_trips;
    r->suppressed = true;
    return;
  }
  r->transition = TripLocked(now, State::kClosed, /*grow_streak=*/true,
                             /*reserved=*/budget != nullptr);
  Stamp(r->transition, now, /*manual=*/false);
}

Transition Breaker::TripLocked(std::int64_t now, State from, bool grow_streak,
                               bool reserved) {
  const std::int64_t period = rules_.NextOpenPeriod(
      *policy(), now, from == State::kClosed, grow_streak,
      peer_hash_ ^ trips_.load(std::memory_order_relaxed));
  open_until_ns_.store(SatAdd(now, period), std::memory_order_relaxed);
  Transition t = SetWordLocked(State::kOpen, 0, reserved);
  t.open_for_ns = period;
  trips_.fetch_add(1, std::memory_order_relaxed);
  half_open_successes_ = 0;
  return t;
}

Transition Breaker::CloseLocked(std::int64_t now, bool manual) {
  set_consecutive(0);
  half_open_successes_ = 0;
  // An operator's close forgets the backoff too.
  rules_.Closed(*policy(), now, /*forget_backoff=*/manual);
  Transition t = SetWordLocked(State::kClosed, 0);
  Stamp(t, now, manual);
  return t;
}


Transition Breaker::Open(const Clock& clock) noexcept {
  std::int64_t now = ToNanos(clock.now());
  SpinLockGuard lock(&mu_);
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  if (Retired(w)) return RetiredTransition();
  Transition t = TripLocked(now, word::StateOf(w), /*grow_streak=*/false);
  if (!t.happened) trips_.fetch_sub(1, std::memory_order_relaxed);
  Stamp(t, now, /*manual=*/true);
  return t;
}

Transition Breaker::Close(const Clock& clock) noexcept {
  std::int64_t now = ToNanos(clock.now());
  SpinLockGuard lock(&mu_);
  if (Retired(word_.load(std::memory_order_relaxed))) return RetiredTransition();
  return CloseLocked(now, /*manual=*/true);
}

Transition Breaker::HalfOpen() noexcept {
  SpinLockGuard lock(&mu_);
  if (Retired(word_.load(std::memory_order_relaxed))) return RetiredTransition();
  half_open_successes_ = 0;
  Transition t = SetWordLocked(State::kHalfOpen, 0);
  Stamp(t, 0, /*manual=*/true);
  return t;
}

Transition Breaker::ForceOpen() noexcept {
  SpinLockGuard lock(&mu_);
  if (Retired(word_.load(std::memory_order_relaxed))) return RetiredTransition();
  Transition t = SetWordLocked(State::kForcedOpen, 0);
  Stamp(t, 0, /*manual=*/true);
  return t;
}

Transition Breaker::Disable() noexcept {
  SpinLockGuard lock(&mu_);
  if (Retired(word_.load(std::memory_order_relaxed))) return RetiredTransition();
  Transition t = SetWordLocked(State::kDisabled, 0);
  Stamp(t, 0, /*manual=*/true);
  return t;
}

Transition Breaker::OpenUntil(std::int64_t until_ns,
                              const Clock& clock) noexcept {
  std::int64_t now = ToNanos(clock.now());
  SpinLockGuard lock(&mu_);
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  if (Retired(w)) return RetiredTransition();
  State s = word::StateOf(w);
  if (s == State::kForcedOpen || s == State::kDisabled) return {};
  if (s == State::kOpen) {
    // Already open: only ever extend, never shorten, the open period.
    if (until_ns > open_until_ns_.load(std::memory_order_relaxed)) {
      open_until_ns_.store(until_ns, std::memory_order_relaxed);
    }
    return {};
  }
  open_until_ns_.store(until_ns, std::memory_order_relaxed);
  rules_.TripDecidedElsewhere();
  Transition t = SetWordLocked(State::kOpen, 0);
  t.open_for_ns = SatSub(until_ns, now);
  trips_.fetch_add(1, std::memory_order_relaxed);
  Stamp(t, now, /*manual=*/false);
  return t;
}

Transition Breaker::Reclose(const Clock& clock) noexcept {
  std::int64_t now = ToNanos(clock.now());
  SpinLockGuard lock(&mu_);
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  if (Retired(w)) return RetiredTransition();
  State s = word::StateOf(w);
  if (s == State::kClosed || s == State::kForcedOpen || s == State::kDisabled) {
    return {};
  }
  return CloseLocked(now, /*manual=*/false);
}

Settled Breaker::Eject(std::int64_t now_ns) noexcept {
  SpinLockGuard lock(&mu_);
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  Settled r;
  r.now_ns = now_ns;
  if (Retired(w)) {
    r.retired = true;
    return r;
  }
  if (word::StateOf(w) == State::kClosed) TripFromClosedLocked(now_ns, &r);
  return r;
}

void Breaker::CountEjection() noexcept {
  SpinLockGuard lock(&mu_);
  if (Judged* j = JudgedLocked(*policy())) ++j->ejections;
}

Breaker::Judged* Breaker::JudgedLocked(const Policy& p) noexcept {
  if (judged_ == nullptr) {
    judged_.reset(new (std::nothrow) Judged);
    if (judged_ == nullptr) return nullptr;
  }
  if (p.records_latency && judged_->latency == nullptr) {
    judged_->latency.reset(new (std::nothrow) std::int64_t[kLatencySamples]);
  }
  return judged_.get();
}

void Breaker::RecordLatency(std::int64_t latency_ns) noexcept {
  SpinLockGuard lock(&mu_);
  Judged* j = JudgedLocked(*policy());
  if (j == nullptr || j->latency == nullptr) return;
  j->latency[j->next] = latency_ns;
  j->next = (j->next + 1) % kLatencySamples;
  if (j->count < static_cast<std::uint32_t>(kLatencySamples)) ++j->count;
}

bool Breaker::TakeInterval(IntervalCalls* out) noexcept {
  // Read before the lock: the success counts are spread over the threads'
  // arrays (counters.h), and summing them takes a while.
  const std::uint64_t successes =
      ThreadCounts::Read(ThreadCounts::kSuccesses, count_id_, successes_);
  SpinLockGuard lock(&mu_);
  const std::uint64_t failures = failures_.load(std::memory_order_relaxed);
  Judged* j = JudgedLocked(*policy());
  if (j == nullptr) return false;
  const std::uint64_t new_successes = successes - j->successes_seen;
  out->failures = failures - j->failures_seen;
  out->calls = new_successes + out->failures;
  j->successes_seen = successes;
  j->failures_seen = failures;
  out->samples = 0;
  if (j->latency != nullptr) {
    // Oldest first.
    const std::uint32_t n = j->count;
    for (std::uint32_t i = 0; i < n; ++i) {
      out->latency_ns[i] =
          j->latency[(j->next + kLatencySamples - n + i) % kLatencySamples];
    }
    out->samples = static_cast<int>(n);
    j->count = 0;
  }
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  out->state = Retired(w) ? State::kClosed : word::StateOf(w);
  return true;
}

bool Breaker::Retire() noexcept {
  SpinLockGuard lock(&mu_);
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  if (word::StateOf(w) != State::kClosed) return false;
  word_.store(word::kRetired | ((word::GenerationOf(w) + 1) << word::kGenShift),
              std::memory_order_release);
  return true;
}

State Breaker::EffectiveState(const Clock& clock) const noexcept {
  std::uint64_t w = word_.load(std::memory_order_acquire);
  if (Retired(w)) return State::kClosed;
  State s = word::StateOf(w);
  if (s == State::kOpen &&
      ToNanos(clock.now()) >= open_until_ns_.load(std::memory_order_acquire)) {
    return State::kHalfOpen;
  }
  return s;
}

bool Breaker::IsClosed() const noexcept {
  return word::StateOf(word_.load(std::memory_order_acquire)) == State::kClosed;
}

BreakerView Breaker::View(const Clock& clock) const noexcept {
  BreakerView v;
  std::int64_t now = ToNanos(clock.now());
  SpinLockGuard lock(&mu_);
  std::uint64_t w = word_.load(std::memory_order_acquire);
  v.state = Retired(w) ? State::kClosed : word::StateOf(w);
  std::int64_t until = open_until_ns_.load(std::memory_order_relaxed);
  if (v.state == State::kOpen) {
    v.open_until_set = true;
    v.open_until_ns = until;
    if (now >= until) v.state = State::kHalfOpen;
  }
  const Policy& p = *policy();
  v.failures_in_window = rules_.FailuresInWindow(p, now);
  v.consecutive_failures = consecutive();
  v.successes = ThreadCounts::Read(ThreadCounts::kSuccesses, count_id_, successes_);
  v.failures = failures_.load(std::memory_order_relaxed);
  v.ignored = ignored_.load(std::memory_order_relaxed);
  v.rejections =
      ThreadCounts::Read(ThreadCounts::kRejections, count_id_, rejections_);
  v.trips = trips_.load(std::memory_order_relaxed);
  v.trips_in_a_row = rules_.trips_in_a_row();
  v.probes_in_flight = static_cast<int>(word::ProbesOf(w));
  if (judged_ != nullptr) {
    v.ejections = judged_->ejections;
    v.suppressed_trips = judged_->suppressed_trips;
  }
  v.in_flight = in_flight_.load(std::memory_order_relaxed);
  return v;
}

}  // namespace circuit::internal
