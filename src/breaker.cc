// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "breaker.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
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
// OpenBudget

std::int64_t OpenBudget::Limit(std::size_t peers) const noexcept {
  const double allowed = std::floor(fraction_ * static_cast<double>(peers));
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(allowed));
}

bool OpenBudget::TryTake() noexcept {
  const std::int64_t limit = Limit(peers_());
  std::int64_t n = open_.load(std::memory_order_acquire);
  do {
    if (n >= limit) return false;
  } while (!open_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire));
  return true;
}

// ---------------------------------------------------------------------------
// Policy

absl::StatusOr<std::unique_ptr<Policy>> Policy::Make(
    const BreakerOptions& options, const SetLevel& set) {
  if (absl::Status s = options.validate(); !s.ok()) return s;
  auto p = std::make_unique<Policy>();
  p->options = options;
  p->time_unit_ns = absl::ToInt64Nanoseconds(options.time_unit);
  p->reset_ns = absl::ToInt64Nanoseconds(options.reset_timeout);
  p->max_reset_ns = absl::ToInt64Nanoseconds(options.max_reset_timeout);
  p->slow_ns = absl::ToInt64Nanoseconds(options.slow_call_duration);
  p->bucket_ns = std::max<std::int64_t>(1, p->time_unit_ns / options.window_buckets);
  p->seed = set.seed;
  p->window_rule = options.max_failures != kUnlimited;
  p->rate_rules =
      options.failure_rate_threshold > 0 || options.slow_call_rate_threshold > 0;
  p->records_latency = set.records_latency;
  p->failures_report_time = set.judges_outliers;
  p->times_calls = p->slow_ns > 0 || p->records_latency;
  p->max_concurrent = options.max_concurrent_calls;
  p->budget = set.budget;
  return p;
}

// ---------------------------------------------------------------------------
// FailureRing

Breaker::FailureRing::~FailureRing() {
  if (cap_ > kInline) delete[] heap_;
}

void Breaker::FailureRing::SetLimit(std::uint32_t limit) noexcept {
  limit_ = limit;
  if (cap_ == 0) cap_ = kInline;  // the inline slots need no allocation
  if (count_ > limit) {           // keep the newest `limit`
    head_ = (head_ + (count_ - limit)) % cap_;
    count_ = limit;
  }
}

bool Breaker::FailureRing::Grow() noexcept {
  std::uint32_t fresh_cap =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(
          std::max<std::uint64_t>(2ull * cap_, 8), limit_));
  auto* fresh = new (std::nothrow) std::int64_t[fresh_cap];
  if (fresh == nullptr) return false;
  const std::int64_t* src = data();
  for (std::uint32_t i = 0; i < count_; ++i) fresh[i] = src[(head_ + i) % cap_];
  if (cap_ > kInline) delete[] heap_;
  heap_ = fresh;
  cap_ = fresh_cap;
  head_ = 0;
  return true;
}

bool Breaker::FailureRing::AddAndCheck(std::int64_t t,
                                       std::int64_t window) noexcept {
  if (limit_ == 0) return false;
  std::int64_t* d = data();
  // Failures at or before t - window can never share a window with this one
  // or a later one: forget them, so storage tracks the failures actually in
  // the window rather than max_failures.
  const std::int64_t oldest_kept = SatSub(t, window);
  while (count_ > 0 && d[head_] <= oldest_kept) {
    head_ = (head_ + 1) % cap_;
    --count_;
  }
  // `limit_` failures inside (t - window, t] already: this one is the
  // (max_failures + 1)-th, and the oldest falls out. Out of memory, the
  // oldest falls out too: approximate rather than failing.
  const bool full = count_ >= limit_;
  if (full || (count_ == cap_ && !Grow())) {
    head_ = (head_ + 1) % cap_;
    --count_;
  }
  d = data();
  d[(head_ + count_) % cap_] = t;
  ++count_;
  return full;
}

int Breaker::FailureRing::CountWithin(std::int64_t now,
                                      std::int64_t window) const noexcept {
  const std::int64_t* d = data();
  int n = 0;
  for (std::uint32_t i = 0; i < count_; ++i) {
    std::int64_t t = d[(head_ + i) % cap_];
    if (t > SatSub(now, window) && t <= now) ++n;
  }
  return n;
}

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
  const BreakerOptions& o = policy->options;
  std::uint32_t cap =
      policy->window_rule ? static_cast<std::uint32_t>(o.max_failures) : 0;
  std::unique_ptr<Bucket[]> buckets;
  if (policy->rate_rules) {
    buckets.reset(new Bucket[o.window_buckets]);
    for (int i = 0; i < o.window_buckets; ++i) {
      buckets[i] = {std::numeric_limits<std::int64_t>::min(), 0, 0, 0};
    }
  }
  if (history_ != nullptr) history_->ring.SetLimit(cap);
  buckets_ = std::move(buckets);
  bucket_count_ = policy->rate_rules ? o.window_buckets : 0;
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
  // The policy itself is loaded only off the closed success path.
  const std::uint8_t fast = this->fast();
  std::int64_t now = 0;
  bool have_now = false;
  bool slow = false;
  if ((fast & kTimesCalls) != 0 && outcome != Outcome::kIgnored &&
      start_ns != kUntimed) {
    now = ToNanos(clock.now());
    have_now = true;
    const Policy& p = *policy();
    const std::int64_t took = SatSub(now, start_ns);
    slow = p.slow_ns > 0 && took > p.slow_ns;
    if (p.records_latency) RecordLatency(took);
  }
  switch (outcome) {
    case Outcome::kSuccess:
      CountSuccess();
      break;
    case Outcome::kFailure:
      failures_.fetch_add(1, std::memory_order_relaxed);
      break;
    case Outcome::kIgnored:
      ignored_.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  w = word_.load(std::memory_order_acquire);
  if (word::GenerationOf(w) != generation) {
    if (Retired(w)) return OnRetired(w, generation);
    return Settled{.late = true,
                   .transition = {},
                   .now_ns = have_now ? now : kUntimed};
  }
  State s = word::StateOf(w);
  Settled plain;
  plain.now_ns = have_now ? now : kUntimed;
  if (s == State::kDisabled) return plain;
  if (s == State::kClosed) {
    // The closed success path: nothing to write unless a run of failures
    // must be reset or a rate rule counts calls.
    if (outcome == Outcome::kIgnored) return plain;
    if (outcome == Outcome::kSuccess && (fast & kRateRules) == 0 &&
        consecutive() == 0) {
      return plain;
    }
  }
  // Closed without rate rules, an outcome needs the time only for the
  // window rule or a trip: read below, under the lock, when it does.
  if (!have_now && !(s == State::kClosed && (fast & kRateRules) == 0)) {
    now = ToNanos(clock.now());
    have_now = true;
  }

  SpinLockGuard lock(&mu_);
  w = word_.load(std::memory_order_relaxed);
  if (word::GenerationOf(w) != generation) {
    // Retired since the check above: the outcome counted here is dropped
    // with the breaker, and recorded on the live one.
    if (Retired(w)) return OnRetired(w, generation);
    return Settled{.late = true,
                   .transition = {},
                   .now_ns = have_now ? now : kUntimed};
  }
  s = word::StateOf(w);
  if (s != State::kClosed && !have_now) {  // no longer closed: needs the time
    now = ToNanos(clock.now());
    have_now = true;
  }
  const Policy& q = *policy();  // may have been reconfigured meanwhile
  Settled r;
  r.now_ns = have_now ? now : kUntimed;
  if (s == State::kClosed) {
    bool trip = false;
    if (outcome == Outcome::kSuccess) {
      set_consecutive(0);
    } else {
      std::int32_t run = consecutive() + 1;
      set_consecutive(run);
      const BreakerOptions& o = q.options;
      if (o.consecutive_failures > 0 && run >= o.consecutive_failures) trip = true;
      // Outlier detection evaluates on a failure's time (the set's
      // MaybeEvaluate), so it needs one too.
      if ((q.window_rule || trip || q.failures_report_time) && !have_now) {
        now = ToNanos(clock.now());
        have_now = true;
      }
      if (q.window_rule) {
        History* h = o.max_failures == 0 ? nullptr : HistoryLocked();
        if (o.max_failures == 0 ||
            (h != nullptr && h->ring.AddAndCheck(now, q.time_unit_ns))) {
          trip = true;
        }
      }
    }
    // (A reconfiguration may have turned a rate rule on since `fast`.)
    if (q.rate_rules && !have_now) {
      now = ToNanos(clock.now());
      have_now = true;
    }
    if (q.rate_rules &&
        RecordRateLocked(q, now, outcome == Outcome::kFailure, slow)) {
      trip = true;
    }
    if (trip) TripFromClosedLocked(now, &r);
    r.now_ns = have_now ? now : kUntimed;
    return r;
  }
  if (s == State::kHalfOpen && probe) {
    if (outcome == Outcome::kFailure) {
      r.transition = TripLocked(now, State::kHalfOpen, true);
      Stamp(r.transition, now, /*manual=*/false);
      return r;
    }
    if (outcome == Outcome::kSuccess &&
        ++half_open_successes_ >= q.options.half_open_successes) {
      r.transition = CloseLocked(now, /*manual=*/false);
      return r;
    }
    // Give the probe slot back (admissions CAS the word without the lock).
    std::uint64_t cur = word_.load(std::memory_order_relaxed);
    while (word::GenerationOf(cur) == generation && word::ProbesOf(cur) > 0 &&
           !word_.compare_exchange_weak(cur, cur - (1ull << word::kProbeShift),
                                        std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
    }
  }
  return r;
}

bool Breaker::RecordRateLocked(const Policy& p, std::int64_t now, bool failure,
                               bool slow) {
  if (bucket_count_ == 0) return false;
  const std::int64_t n = bucket_count_;
  std::int64_t idx = FloorDiv(now, p.bucket_ns);
  Bucket& b = buckets_[((idx % n) + n) % n];
  if (b.index != idx) b = {idx, 0, 0, 0};
  ++b.calls;
  if (failure) ++b.failures;
  if (slow) ++b.slow;
  std::uint64_t calls = 0, failures = 0, slows = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const Bucket& x = buckets_[i];
    if (x.index > SatSub(idx, n) && x.index <= idx) {
      calls += x.calls;
      failures += x.failures;
      slows += x.slow;
    }
  }
  const BreakerOptions& o = p.options;
  if (calls < static_cast<std::uint64_t>(o.minimum_calls)) return false;
  auto reaches = [calls](std::uint64_t part, double threshold) {
    return threshold > 0 &&
           static_cast<double>(part) >= threshold * static_cast<double>(calls);
  };
  return reaches(failures, o.failure_rate_threshold) ||
         reaches(slows, o.slow_call_rate_threshold);
}

std::int64_t Breaker::OpenPeriodLocked(const Policy& p, int streak) const {
  const BreakerOptions& o = p.options;
  if ((o.backoff_multiplier <= 1 || streak <= 1) && o.jitter <= 0) {
    // Exact: a double holds only 53 bits, so a reset_timeout past ~104 days
    // would come back rounded.
    return std::max<std::int64_t>(0, std::min(p.reset_ns, p.max_reset_ns));
  }
  double d = static_cast<double>(p.reset_ns);
  if (o.backoff_multiplier > 1 && streak > 1) {
    d *= std::pow(o.backoff_multiplier, streak - 1);
  }
  d = std::min(d, static_cast<double>(p.max_reset_ns));
  if (o.jitter > 0) {
    std::uint64_t h = Mix(p.seed ^ Mix(peer_hash_ ^ trips_.load(std::memory_order_relaxed)));
    double u = static_cast<double>(h >> 11) * 0x1.0p-53;  // [0, 1)
    d *= 1 + o.jitter * (2 * u - 1);
  }
  if (!(d < 9.2e18)) return kMaxNs;
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(d));
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
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    r->suppressed = true;
    return;
  }
  r->transition = TripLocked(now, State::kClosed, /*grow_streak=*/true,
                             /*reserved=*/budget != nullptr);
  Stamp(r->transition, now, /*manual=*/false);
}

Transition Breaker::TripLocked(std::int64_t now, State from, bool grow_streak,
                               bool reserved) {
  const Policy& p = *policy();
  if (from == State::kClosed && streak_ > 0 && p.time_unit_ns > 0) {
    // Trips in a row decay by one per full time_unit spent closed.
    std::int64_t closed_for =
        history_ == nullptr ? 0 : SatSub(now, history_->closed_since_ns);
    if (closed_for > 0) {
      std::int64_t decay = closed_for / p.time_unit_ns;
      streak_ = static_cast<std::int32_t>(
          std::max<std::int64_t>(0, streak_ - std::min<std::int64_t>(decay, streak_)));
    }
  }
  if (grow_streak) {
    streak_ = std::min(streak_ + 1, 1 << 20);
  } else {
    streak_ = std::max(streak_, 1);
  }
  std::int64_t period = OpenPeriodLocked(p, streak_);
  open_until_ns_.store(SatAdd(now, period), std::memory_order_relaxed);
  Transition t = SetWordLocked(State::kOpen, 0, reserved);
  t.open_for_ns = period;
  trips_.fetch_add(1, std::memory_order_relaxed);
  half_open_successes_ = 0;
  return t;
}

Breaker::History* Breaker::HistoryLocked() noexcept {
  if (history_ == nullptr) {
    history_.reset(new (std::nothrow) History);
    if (history_ == nullptr) return nullptr;
    const Policy& p = *policy();
    history_->ring.SetLimit(
        p.window_rule ? static_cast<std::uint32_t>(p.options.max_failures) : 0);
  }
  return history_.get();
}

void Breaker::ClearHistoryLocked() {
  if (history_ != nullptr) history_->ring.Clear();
  set_consecutive(0);
  half_open_successes_ = 0;
  for (std::uint32_t i = 0; i < bucket_count_; ++i) {
    buckets_[i] = {std::numeric_limits<std::int64_t>::min(), 0, 0, 0};
  }
}

Transition Breaker::CloseLocked(std::int64_t now, bool manual) {
  ClearHistoryLocked();
  if (manual) streak_ = 0;  // an operator's close forgets the backoff too
  if (History* h = HistoryLocked()) h->closed_since_ns = now;  // backoff decay
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
  streak_ = std::max(streak_, 1);
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
  v.failures_in_window =
      history_ == nullptr ? 0 : history_->ring.CountWithin(now, p.time_unit_ns);
  v.consecutive_failures = consecutive();
  v.successes = ThreadCounts::Read(ThreadCounts::kSuccesses, count_id_, successes_);
  v.failures = failures_.load(std::memory_order_relaxed);
  v.ignored = ignored_.load(std::memory_order_relaxed);
  v.rejections =
      ThreadCounts::Read(ThreadCounts::kRejections, count_id_, rejections_);
  v.trips = trips_.load(std::memory_order_relaxed);
  v.trips_in_a_row = streak_;
  v.probes_in_flight = static_cast<int>(word::ProbesOf(w));
  v.ejections = ejections_.load(std::memory_order_relaxed);
  v.suppressed_trips = suppressed_.load(std::memory_order_relaxed);
  v.in_flight = in_flight_.load(std::memory_order_relaxed);
  return v;
}

}  // namespace circuit::internal
