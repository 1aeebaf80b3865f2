// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "trip_rules.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>

#include "arith.h"

namespace circuit::internal {
namespace {

constexpr std::int64_t kNoBucket = std::numeric_limits<std::int64_t>::min();

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

TripRules::FailureRing::~FailureRing() {
  if (cap_ > kInline) delete[] heap_;
}

void TripRules::FailureRing::SetLimit(std::uint32_t limit) noexcept {
  limit_ = limit;
  if (cap_ == 0) cap_ = kInline;  // the inline slots need no allocation
  if (count_ > limit) {           // keep the newest `limit`
    head_ = (head_ + (count_ - limit)) % cap_;
    count_ = limit;
  }
}

bool TripRules::FailureRing::Grow() noexcept {
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

bool TripRules::FailureRing::AddAndCheck(std::int64_t t,
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

int TripRules::FailureRing::CountWithin(std::int64_t now,
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
// TripRules

void TripRules::Configure(const Policy& p) {
  const BreakerOptions& o = p.options;
  std::unique_ptr<Bucket[]> buckets;
  if (p.rate_rules) {
    buckets.reset(new Bucket[o.window_buckets]);
    for (int i = 0; i < o.window_buckets; ++i) buckets[i] = {kNoBucket, 0, 0, 0};
    if (history_ == nullptr) history_ = std::make_unique<History>();
  }
  if (history_ == nullptr) return;  // nothing to size
  history_->ring.SetLimit(
      p.window_rule ? static_cast<std::uint32_t>(o.max_failures) : 0);
  history_->buckets = std::move(buckets);
}

TripRules::History* TripRules::HistoryFor(const Policy& p) noexcept {
  static_assert(sizeof(History) <= 56, "a 64-byte allocation per failed peer");
  if (history_ == nullptr) {
    history_.reset(new (std::nothrow) History);
    if (history_ == nullptr) return nullptr;
    history_->ring.SetLimit(
        p.window_rule ? static_cast<std::uint32_t>(p.options.max_failures) : 0);
  }
  return history_.get();
}

bool TripRules::RecordWindowFailure(const Policy& p, std::int64_t now) noexcept {
  if (p.options.max_failures == 0) return true;  // nothing to keep
  History* h = HistoryFor(p);
  return h != nullptr && h->ring.AddAndCheck(now, p.time_unit_ns);
}

bool TripRules::RecordRate(const Policy& p, std::int64_t now, bool failure,
                           bool slow) noexcept {
  if (history_ == nullptr || history_->buckets == nullptr) return false;
  Bucket* const buckets = history_->buckets.get();
  const std::int64_t n = p.options.window_buckets;
  std::int64_t idx = FloorDiv(now, p.bucket_ns);
  Bucket& b = buckets[((idx % n) + n) % n];
  if (b.index != idx) b = {idx, 0, 0, 0};
  ++b.calls;
  if (failure) ++b.failures;
  if (slow) ++b.slow;
  std::uint64_t calls = 0, failures = 0, slows = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const Bucket& x = buckets[i];
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

std::int64_t TripRules::NextOpenPeriod(const Policy& p, std::int64_t now,
                                       bool from_closed, bool grow,
                                       std::uint64_t jitter_key) noexcept {
  if (from_closed && streak_ > 0 && p.time_unit_ns > 0 && history_ != nullptr) {
    // Trips in a row decay by one per full time_unit spent closed.
    const std::int64_t closed_for = SatSub(now, history_->closed_since_ns);
    if (closed_for > 0) {
      const std::int64_t decay = closed_for / p.time_unit_ns;
      streak_ = static_cast<std::int32_t>(std::max<std::int64_t>(
          0, streak_ - std::min<std::int64_t>(decay, streak_)));
    }
  }
  streak_ = grow ? std::min(streak_ + 1, 1 << 20) : std::max(streak_, 1);
  return OpenPeriod(p, streak_, jitter_key);
}

void TripRules::Closed(const Policy& p, std::int64_t now,
                       bool forget_backoff) noexcept {
  if (history_ != nullptr) {
    history_->ring.Clear();
    const int n = history_->buckets != nullptr ? p.options.window_buckets : 0;
    for (int i = 0; i < n; ++i) {
      history_->buckets[i] = {kNoBucket, 0, 0, 0};
    }
  }
  if (forget_backoff) streak_ = 0;
  // The backoff decays from now.
  if (History* h = HistoryFor(p)) h->closed_since_ns = now;
}

int TripRules::FailuresInWindow(const Policy& p, std::int64_t now) const noexcept {
  return history_ == nullptr ? 0 : history_->ring.CountWithin(now, p.time_unit_ns);
}

std::int64_t TripRules::OpenPeriod(const Policy& p, int streak,
                                   std::uint64_t jitter_key) noexcept {
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
    std::uint64_t h = Mix(p.seed ^ Mix(jitter_key));
    double u = static_cast<double>(h >> 11) * 0x1.0p-53;  // [0, 1)
    d *= 1 + o.jitter * (2 * u - 1);
  }
  if (!(d < 9.2e18)) return kMaxNs;
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(d));
}


}  // namespace circuit::internal
