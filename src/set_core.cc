// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "set_core.h"

#include <time.h>

#include <random>
#include <span>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "circuit/clock.h"
#include "circuit/errors.h"
#include "arith.h"
#include "epoch.h"
#include "messages.h"
#include "outliers.h"

namespace circuit::internal {
namespace {

std::uint32_t CodeMask(const std::vector<absl::StatusCode>& codes) {
  std::uint32_t mask = 0;
  for (absl::StatusCode c : codes) {
    auto n = static_cast<int>(c);
    if (n > 0 && n < 32) mask |= 1u << n;
  }
  return mask;
}

std::uint64_t SeedFrom(std::uint64_t seed) {
  if (seed != 0) return seed;
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// CoarseSlackNs()
//
// For the default clock, how far CLOCK_MONOTONIC_COARSE may lag
// CLOCK_MONOTONIC: it is the exact clock as of the last timer tick, so one
// tick (its resolution); two, for margin. -1 for other clocks, or when the
// kernel has no usable coarse clock (then rejections read the exact one).
std::int64_t CoarseSlackNs(const Clock* clock) {
  if (clock != &MonotonicClock::instance()) return -1;
  timespec res;
  if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0 || res.tv_sec != 0 ||
      res.tv_nsec > 10'000'000) {
    return -1;
  }
  return 2 * static_cast<std::int64_t>(res.tv_nsec);
}


}  // namespace

SetCore::SetCore(SetOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock
                                       : &MonotonicClock::instance()),
      coarse_slack_ns_(CoarseSlackNs(clock_)),
      short_id_bytes_(std::min<std::size_t>(options_.max_peer_id_bytes,
                                            Entry::kInlineKey)),
      seed_(SeedFrom(options_.random_seed)),
      failure_code_mask_(CodeMask(options_.failure_codes)),
      idle_ns_(absl::ToInt64Nanoseconds(options_.idle_timeout)),
      judging_(OutlierRulesOn(options_.outlier)),
      outlier_interval_ns_(absl::ToInt64Nanoseconds(options_.outlier.interval)),
      budget_(options_.max_open_fraction < 1
                  ? std::make_unique<OpenBudget>(
                        options_.max_open_fraction,
                        [this] { return table_.size(); })
                  : nullptr),
      events_(options_.logger, options_.log_interval),
      store_(options_.store) {
  next_evaluation_ns_.store(SatAdd(NowNs(), outlier_interval_ns_),
                            std::memory_order_relaxed);
  if (options_.max_peers > 0 || idle_ns_ > 0) {
    table_.EnableEviction();
    general.fetch_or(kEvicting, std::memory_order_relaxed);
  }
  {
    MutexLock lock(&mu_);
    default_policy_ = Intern(options_.defaults);
  }
  if (store_ != nullptr) store_->attach(this, options_.defaults);
}

SetCore::~SetCore() {
  if (store_ != nullptr) store_->detach(this);
  delete classifier_.load(std::memory_order_acquire);
  // The table frees its entries; retired ones are freed by the epoch domain.
  Epoch::TryReclaim();
}

void SetCore::DeleteClassifier(void* p) noexcept {
  delete static_cast<const Classifier*>(p);
}

absl::Status SetCore::CheckPeer(std::string_view peer) const {
  if (peer.empty()) return absl::InvalidArgumentError("peer id is empty");
  if (peer.size() > options_.max_peer_id_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "peer id is ", peer.size(), " bytes long; the limit is ",
        options_.max_peer_id_bytes, " (SetOptions::max_peer_id_bytes)"));
  }
  return absl::OkStatus();
}

const Policy* SetCore::Intern(const BreakerOptions& options) {
  for (const auto& p : policies_) {
    if (p->options == options) return p.get();
  }
  absl::StatusOr<std::unique_ptr<Policy>> p = Policy::Make(
      options, Policy::SetLevel{
                   .seed = seed_,
                   .records_latency = options_.outlier.latency_factor > 0,
                   .judges_outliers = judging_,
                   .budget = budget_.get()});
  if (!p.ok()) throw std::invalid_argument(std::string(p.status().message()));
  policies_.push_back(*std::move(p));
  return policies_.back().get();
}

const Policy* SetCore::PolicyForNewPeer(std::string_view peer) {
  // No configure() yet (the common case): no lock, no second hash. One that
  // runs meanwhile is caught by Adopt or finds the entry (see there).
  if (configured_.load(std::memory_order_acquire) == 0 &&
      !options_.options_for) {
    return default_policy_;
  }
  {
    MutexLock lock(&mu_);
    auto it = overrides_.find(absl::string_view(peer.data(), peer.size()));
    if (it != overrides_.end()) return it->second;
    if (!options_.options_for) return default_policy_;
  }
  // User code: outside every lock, and its failures cannot break admission.
  BreakerOptions chosen;
  try {
    chosen = options_.options_for(peer);
  } catch (const std::exception& e) {
    events_.Warn(absl::StrCat("options_for(", absl::string_view(peer.data(), peer.size()),
                              ") threw: ", e.what(), "; using the defaults"));
    return default_policy_;
  } catch (...) {
    events_.Warn(absl::StrCat("options_for(", absl::string_view(peer.data(), peer.size()),
                              ") threw; using the defaults"));
    return default_policy_;
  }
  if (absl::Status s = chosen.validate(); !s.ok()) {
    events_.Warn(absl::StrCat("options_for(", absl::string_view(peer.data(), peer.size()),
                              ") returned bad options (", s.message(),
                              "); using the defaults"));
    return default_policy_;
  }
  MutexLock lock(&mu_);
  return Intern(chosen);
}

Entry* SetCore::FindOrCreate(std::string_view peer, std::uint64_t hash,
                             bool take_handle) {
  Entry* e = table_.Find(peer, hash);
  if (e != nullptr && !take_handle && !e->breaker.IsRetired()) [[likely]] {
    return e;
  }
  // A retired entry's policy is its peer's (a configure() since is in
  // overrides_, which Adopt applies).
  const Policy* policy =
      e != nullptr ? e->breaker.policy() : PolicyForNewPeer(peer);
  bool created = false;
  e = take_handle ? table_.AcquireHandle(peer, hash, policy, &created)
                  : table_.Insert(peer, hash, policy, &created);
  if (created) {
    try {
      Adopt(e, peer, policy);
    } catch (...) {
      if (take_handle) ReleaseHandle(e);  // no handle will own it
      throw;
    }
  }
  return e;
}

void SetCore::Adopt(Entry* e, std::string_view peer, const Policy* used) {
  // The entry is in the table now. This and Configure each do a read-
  // modify-write of configured_ (this one adds 0), so one of the two reads
  // the other's: either this one sees configured_ set and takes the lock
  // below, or that Configure, having read this one (release), finds the
  // entry and sets its policy itself.
  if (configured_.fetch_add(0, std::memory_order_acq_rel) != 0) {
    // Serialised with Configure's update of overrides_ and of the entry it
    // finds: whichever runs last leaves the last configure()'s policy, even
    // when one ran while `used` was chosen (options_for runs unlocked).
    MutexLock lock(&mu_);
    auto it = overrides_.find(absl::string_view(peer.data(), peer.size()));
    if (it != overrides_.end() && it->second != used) {
      e->breaker.SetPolicy(it->second);
    }
  }
  if (options_.max_peers > 0 && table_.size() > options_.max_peers) {
    table_.EvictOverCap(options_.max_peers, e);
  }
  MaybeSweep();
}

Entry* SetCore::FindLive(std::string_view peer,
                         std::uint64_t hash) const noexcept {
  Entry* e = table_.Find(peer, hash);
  return e != nullptr && !e->breaker.IsRetired() ? e : nullptr;
}

void SetCore::MaybeSweep() {
  if (idle_ns_ <= 0) return;
  std::int64_t now = ToNanos(clock_->now());
  {
    MutexLock lock(&mu_);
    // Sweeping costs a heap walk; a few times per idle period is plenty.
    const std::int64_t since = SatSub(now, last_sweep_ns_);
    if (since < idle_ns_ / 8 && last_sweep_ns_ != 0) return;
    last_sweep_ns_ = now;
  }
  table_.SweepIdle(now, idle_ns_);
}

Verdict SetCore::RefuseBadPeer(std::string_view peer,
                               absl::Status* status) const {
  if (status != nullptr) *status = CheckPeer(peer);
  Verdict v;
  v.refusal = Refusal::kBadPeer;
  return v;
}

// Inlined into AdmitSlow, its only caller: a rejection is its common case.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Verdict SetCore::Refuse(
    Entry* e, std::uint32_t pin, Refusal refusal, std::int64_t retry_after_ns,
    std::int32_t limit, absl::Status* status) noexcept {
  const bool busy = refusal == Refusal::kBusy;
  // The breaker counts its own rejections; a full bulkhead is the set's.
  if (busy) e->breaker.CountRejection();
  table_.Touch(e);
  if (events_.has_listeners()) [[unlikely]] events_.Rejected(e->key());
  if (status != nullptr) {
    // Assigned from the peer's kept status (a reference taken), not through
    // a temporary of either kind.
    try {
      if (busy) {
        *status = absl::ResourceExhaustedError(
            ConcurrencyLimitMessage(e->key(), limit));
      } else {
        *status = e->RejectionStatus();
      }
    } catch (...) {
      // No memory to build the peer's status.
      *status = busy ? absl::ResourceExhaustedError("concurrency limit reached")
                     : absl::UnavailableError("circuit open");
    }
  }
  Epoch::Unpin(pin);
  Verdict v;
  v.refusal = refusal;
  v.retry_after_ns = retry_after_ns;
  v.limit = limit;
  return v;
}

Verdict SetCore::AdmitNew(std::string_view peer, std::uint64_t hash,
                          std::uint32_t pin, absl::Status* status) {
  return AdmitEntry(CreatePinned(peer, hash, pin), pin, status);
}

Entry* SetCore::CreatePinned(std::string_view peer, std::uint64_t hash,
                             std::uint32_t pin) {
  try {
    return FindOrCreate(peer, hash);
  } catch (...) {
    Epoch::Unpin(pin);
    throw;
  }
}

std::int64_t SetCore::NowNs() const noexcept {
  if (clock_ == &MonotonicClock::instance()) return ReadClockNs(CLOCK_MONOTONIC);
  return ToNanos(clock_->now());
}

std::int64_t SetCore::CoarseNowNs(std::int64_t* slack_ns) const noexcept {
  if (coarse_slack_ns_ >= 0) {
    *slack_ns = coarse_slack_ns_;
    return ReadClockNs(CLOCK_MONOTONIC_COARSE);
  }
  *slack_ns = 0;
  return NowNs();
}

Verdict SetCore::AdmitSlow(Entry* e, std::uint32_t pin, absl::Status* status,
                           Mode mode) {
  const bool dry_run = mode == Mode::kDryRun;
  // An open (or forced-open) breaker before its deadline: the common
  // rejection, without the breaker's general Admit and its Decision.
  // The deadline is checked first on the coarse clock (a few ns, against
  // some 20 for the exact one); only within its slack of the deadline is
  // the exact clock read.
  State raw = e->breaker.RawState();
  if (!dry_run && (raw == State::kOpen || raw == State::kForcedOpen)) {
    std::int64_t slack = 0;
    std::int64_t retry_after_ns = 0;
    std::int64_t now = raw == State::kOpen ? CoarseNowNs(&slack) : 0;
    if (e->breaker.RejectIfOpen(now, slack, &retry_after_ns) ||
        (slack != 0 && e->breaker.RejectIfOpen(NowNs(), 0, &retry_after_ns))) {
      return Refuse(e, pin, Refusal::kOpen, retry_after_ns, 0, status);
    }
  }
  // The bulkhead: a slot first, given back when the breaker refuses.
  const std::int32_t limit = e->breaker.policy()->max_concurrent;
  if (dry_run) {
    if (limit > 0 && e->breaker.SlotsTaken() >= limit) {
      return Verdict::Busy(limit);
    }
    Decision d = e->breaker.Admit(*clock_, /*dry_run=*/true);
    // A retired entry's peer would be made anew, closed: admitted.
    if (!d.admitted && !d.retired) return Verdict::Open(d.retry_after_ns);
    Verdict v;
    v.ticket.breaker = &e->breaker;
    return v;
  }
  if (limit > 0 && !e->breaker.TryTakeSlot(limit)) {
    return Refuse(e, pin, Refusal::kBusy, 0, limit, status);
  }
  Decision d = e->breaker.Admit(*clock_);
  if (limit > 0 && !d.admitted) e->breaker.ReleaseSlot();
  if (d.retired) [[unlikely]] {
    // Dropped from the table since it was found: the peer's live entry.
    Entry* live = CreatePinned(e->key(), e->hash, pin);
    return AdmitEntry(live, pin, status);
  }
  if (d.transition.happened) Report(e, d.transition);
  if (!d.admitted) {
    return Refuse(e, pin, Refusal::kOpen, d.retry_after_ns, 0, status);
  }
  table_.Touch(e);
  Verdict v;
  v.ticket.breaker = &e->breaker;
  v.ticket.generation = d.generation | (limit > 0 ? kHoldsSlot : 0);
  v.ticket.pin = pin;
  v.ticket.probe = d.probe;
  if (e->breaker.TimesCalls()) v.ticket.start_ns = ToNanos(clock_->now());
  if (d.probe) events_.Probe(e->key());
  events_.BeforeCall(e->key());
  return v;
}

void SetCore::SettleGeneral(Entry* e, const Ticket& ticket,
                            Outcome outcome) noexcept {
  Settled s = e->breaker.Settle(ticket.generation & ~kHoldsSlot, ticket.probe,
                                outcome, ticket.start_ns, *clock_);
  // The slot goes back to the breaker it was taken from, retired or not.
  if ((ticket.generation & kHoldsSlot) != 0) e->breaker.ReleaseSlot();
  if (s.retired) [[unlikely]] {
    e = SettleOnLive(e, s.late, outcome, ticket.start_ns, &s);
    if (e == nullptr) {
      Epoch::Unpin(ticket.pin);
      return;
    }
  }
  if (outcome == Outcome::kSuccess) {
    events_.Success(e->key());
  } else if (outcome == Outcome::kFailure) {
    events_.Failure(e->key());
    if (store_ != nullptr && !s.late) {
      try {
        store_->record_failure(e->key(), clock_->now());
      } catch (...) {
        // A store's trouble never reaches the caller.
      }
    }
  }
  if (s.suppressed) [[unlikely]] ReportSuppressed(e, s.now_ns);
  if (s.transition.happened) Report(e, s.transition);
  if (judging_ && s.now_ns != kUntimed) MaybeEvaluate(s.now_ns);
  Epoch::Unpin(ticket.pin);
}

void SetCore::ReportSuppressed(Entry* e, std::int64_t now_ns) noexcept {
  const std::int64_t open = budget_ != nullptr ? budget_->open() : 0;
  const std::int64_t limit =
      budget_ != nullptr ? budget_->Limit(table_.size()) : 0;
  events_.TripSuppressed(e->key(), now_ns, open, limit,
                         options_.max_open_fraction);
}

void SetCore::MaybeEvaluate(std::int64_t now_ns) noexcept {
  std::int64_t due = next_evaluation_ns_.load(std::memory_order_relaxed);
  if (now_ns < due) return;
  // One settle wins the evaluation; the others go on.
  if (!next_evaluation_ns_.compare_exchange_strong(
          due, SatAdd(now_ns, outlier_interval_ns_),
          std::memory_order_relaxed)) {
    return;
  }
  try {
    EvaluateOutliers(now_ns);
  } catch (...) {
    // Out of memory gathering the figures: this evaluation is skipped.
  }
}

std::size_t SetCore::EvaluateOutliers(std::int64_t now_ns) {
  if (!judging_) return 0;
  next_evaluation_ns_.store(SatAdd(now_ns, outlier_interval_ns_),
                            std::memory_order_relaxed);
  EpochGuard pin;
  std::vector<Entry*> entries;
  std::vector<PeerCalls> calls;
  {
    MutexLock lock(&evaluation_mu_);
    IntervalCalls ic;
    ForEachEntry([&](Entry* e) {
      if (!e->breaker.TakeInterval(&ic)) return;
      PeerCalls pc;
      pc.calls = ic.calls;
      pc.failures = ic.failures;
      if (ic.samples > 0) {
        pc.median_ns = MedianOf(std::span(ic.latency_ns, ic.samples));
      }
      pc.ejectable = ic.state == State::kClosed;
      entries.push_back(e);
      calls.push_back(pc);
    });
  }
  std::size_t ejected = 0;
  const bool enforce = options_.outlier.enforce;
  for (Ejection& j : JudgeOutliers(calls, options_.outlier)) {
    Entry* e = entries[j.index];
    if (!enforce) {
      e->breaker.CountEjection();
      events_.Ejected(e->key(), j.reason, /*enforced=*/false);
      ++ejected;
      continue;
    }
    Settled s = e->breaker.Eject(now_ns);
    if (s.suppressed) {
      ReportSuppressed(e, now_ns);
      continue;
    }
    // Retired, or no longer closed: nothing to eject.
    if (!s.transition.happened) continue;
    e->breaker.CountEjection();
    events_.Ejected(e->key(), j.reason, /*enforced=*/true);
    Report(e, s.transition);
    ++ejected;
  }
  return ejected;
}

void SetCore::Settle(const Ticket& ticket, Outcome outcome) noexcept {
  auto& b = static_cast<Breaker&>(*ticket.breaker);
  if (outcome == Outcome::kSuccess &&
      ((ticket.generation & kHoldsSlot) != 0
           ? b.SettleClosedSuccessWithSlot(ticket.generation)
           : b.SettleClosedSuccess(ticket.generation))) [[likely]] {
    if (events_.has_listeners()) [[unlikely]] {
      events_.Success(Entry::Of(&b)->key());
    }
    Epoch::Unpin(ticket.pin);
    return;
  }
  SettleGeneral(Entry::Of(&b), ticket, outcome);
}


Entry* SetCore::SettleOnLive(Entry* dropped, bool late, Outcome outcome,
                             std::int64_t start_ns, Settled* s) noexcept {
  // `dropped` was closed when it was retired, and a call admitted under its
  // last generation was admitted closed: it is no probe. On the live
  // breaker it counts as if admitted now when that one is closed, and as a
  // late outcome otherwise. The live entry may be retired in turn before
  // the outcome lands: then again.
  try {
    for (;;) {
      Entry* live = FindOrCreate(dropped->key(), dropped->hash);
      std::uint64_t generation =
          late ? kNoGeneration : live->breaker.ClosedGeneration();
      *s = live->breaker.Settle(generation, /*probe=*/false, outcome, start_ns,
                                *clock_);
      if (!s->retired) return live;
    }
  } catch (...) {
    return nullptr;  // out of memory re-creating the peer
  }
}

void SetCore::Report(Entry* e, const Transition& t) noexcept {
  events_.StateChange(e->key(), t);
  if (store_ != nullptr) {
    try {
      store_->record_transition(e->key(), t.from, t.to,
                                absl::Nanoseconds(t.open_for_ns));
    } catch (...) {
    }
  }
}

Outcome SetCore::Classify(const std::exception_ptr& ep) const noexcept {
  if (!ep) return Outcome::kFailure;
  EpochGuard pin;
  const Classifier* c = classifier_.load(std::memory_order_acquire);
  if (c == nullptr) return Outcome::kFailure;
  for (Matcher m : c->ignored) {
    if (m(ep)) return Outcome::kIgnored;
  }
  if (c->handled.empty()) return Outcome::kFailure;
  for (Matcher m : c->handled) {
    if (m(ep)) return Outcome::kFailure;
  }
  return Outcome::kSuccess;
}

Outcome SetCore::OutcomeOf(const absl::Status& s) const noexcept {
  return StatusIsFailure(s) ? Outcome::kFailure : Outcome::kSuccess;
}

bool SetCore::StatusIsFailure(const absl::Status& s) const noexcept {
  auto n = static_cast<int>(s.code());
  return n > 0 && n < 32 && (failure_code_mask_ & (1u << n)) != 0;
}

void SetCore::AddMatcher(Matcher m, bool ignore) {
  MutexLock lock(&mu_);
  const Classifier* old = classifier_.load(std::memory_order_acquire);
  auto fresh = std::make_unique<Classifier>();
  if (old != nullptr) *fresh = *old;
  (ignore ? fresh->ignored : fresh->handled).push_back(m);
  classifier_.store(fresh.release(), std::memory_order_release);
  if (old != nullptr) {
    Epoch::Retire(const_cast<Classifier*>(old), &DeleteClassifier);
  }
}

template <class F>
Entry* SetCore::ChangeLive(std::string_view peer, std::uint64_t hash,
                           F change, Transition* t) {
  for (;;) {
    Entry* e = FindOrCreate(peer, hash);
    *t = change(e->breaker);
    if (!t->retired) return e;  // else retired before the change landed
  }
}

void SetCore::Control(std::string_view peer, Manual what) {
  EpochGuard pin;
  Transition t;
  Entry* e = ChangeLive(peer, PeerTable::Hash(peer),
                        [&](Breaker& b) { return Apply(b, what); }, &t);
  if (t.happened) Report(e, t);
}

Transition SetCore::Apply(Breaker& b, Manual what) const noexcept {
  Transition t;
  switch (what) {
    case Manual::kOpen:
      t = b.Open(*clock_);
      break;
    case Manual::kClose:
      t = b.Close(*clock_);
      break;
    case Manual::kHalfOpen:
      t = b.HalfOpen();
      break;
    case Manual::kForceOpen:
      t = b.ForceOpen();
      break;
    case Manual::kDisable:
      t = b.Disable();
      break;
  }
  return t;
}

void SetCore::Configure(std::string_view peer, const BreakerOptions& options) {
  if (absl::Status s = options.validate(); !s.ok()) {
    throw std::invalid_argument(std::string(s.message()));
  }
  EpochGuard pin;
  // One critical section with Adopt's check of overrides_ on a new entry:
  // an entry created while this runs either is found here or finds this
  // override there.
  MutexLock lock(&mu_);
  const Policy* policy = Intern(options);
  overrides_[absl::string_view(peer.data(), peer.size())] = policy;
  configured_.exchange(1, std::memory_order_acq_rel);  // see Adopt
  if (Entry* e = FindLive(peer, PeerTable::Hash(peer))) {
    e->breaker.SetPolicy(policy);
  }
}

State SetCore::StateOf(std::string_view peer) const {
  if (!CheckPeer(peer).ok()) return State::kClosed;
  EpochGuard pin;
  Entry* e = FindLive(peer, PeerTable::Hash(peer));
  return e == nullptr ? State::kClosed : e->breaker.EffectiveState(*clock_);
}

State SetCore::StateOf(Entry* e) const noexcept {
  return e->breaker.EffectiveState(*clock_);
}

PeerSnapshot SetCore::SnapshotOf(Entry* e) const {
  BreakerView v = e->breaker.View(*clock_);
  PeerSnapshot s;
  s.peer = std::string(e->key());
  s.state = v.state;
  s.failures_in_window = v.failures_in_window;
  s.consecutive_failures = v.consecutive_failures;
  s.successes = v.successes;
  s.failures = v.failures;
  s.ignored = v.ignored;
  s.calls = v.successes + v.failures + v.ignored;
  s.rejections = v.rejections;
  s.trips = v.trips;
  s.trips_in_a_row = v.trips_in_a_row;
  if (v.open_until_set) s.open_until = FromNanos(v.open_until_ns);
  s.probes_in_flight = v.probes_in_flight;
  s.ejections = v.ejections;
  s.suppressed_trips = v.suppressed_trips;
  s.in_flight = e->breaker.policy()->max_concurrent > 0 ? v.in_flight
                                                        : v.probes_in_flight;
  return s;
}

std::optional<PeerSnapshot> SetCore::Snapshot(std::string_view peer) const {
  if (!CheckPeer(peer).ok()) return std::nullopt;
  EpochGuard pin;
  Entry* e = FindLive(peer, PeerTable::Hash(peer));
  if (e == nullptr) return std::nullopt;
  return SnapshotOf(e);
}

Entry* SetCore::AcquireHandle(std::string_view peer) {
  // The handle is counted under the table mutex, so eviction cannot race
  // with it; the entry then stays without a pin.
  EpochGuard pin;
  return FindOrCreate(peer, PeerTable::Hash(peer), /*take_handle=*/true);
}

void SetCore::ReleaseHandle(Entry* e) noexcept {
  // Release: this holder's uses of the entry happen before an eviction that
  // reads the count with acquire (PeerTable::RetireLocked), hence before
  // the entry's memory is reused. The entry is not touched after this.
  e->handles.fetch_sub(1, std::memory_order_release);
}

std::size_t SetCore::Sweep() {
  Epoch::TryReclaim();  // retired entries and tables, without waiting
  if (idle_ns_ <= 0) return 0;
  std::int64_t now = ToNanos(clock_->now());
  {
    MutexLock lock(&mu_);
    last_sweep_ns_ = now;
  }
  return table_.SweepIdle(now, idle_ns_);
}

std::size_t SetCore::Size() {
  MaybeSweep();
  return table_.size();
}

// The store bridge: the fleet's decisions become breaker events. A store
// delivers a peer's decisions in epoch order (see StoreSink), so `epoch` is
// not needed here; an open period is only ever extended, never shortened,
// and half-open is decided locally, by probes.
void SetCore::apply_remote(std::string_view peer, State state,
                           absl::Duration remaining, std::uint64_t epoch) {
  (void)epoch;
  if (state != State::kOpen && state != State::kForcedOpen &&
      state != State::kClosed) {
    return;
  }
  if (!CheckPeer(peer).ok()) return;
  try {
    EpochGuard pin;
    const std::uint64_t hash = PeerTable::Hash(peer);
    if (state == State::kClosed && FindLive(peer, hash) == nullptr) {
      return;  // nothing to close
    }
    Transition t;
    Entry* e = ChangeLive(
        peer, hash,
        [&](Breaker& b) {
          if (state == State::kClosed) return b.Reclose(*clock_);
          const std::int64_t left = std::max<std::int64_t>(
              0, absl::ToInt64Nanoseconds(remaining));
          return b.OpenUntil(SatAdd(ToNanos(clock_->now()), left), *clock_);
        },
        &t);
    if (t.happened) events_.StateChange(e->key(), t);  // not echoed to store
  } catch (...) {
    // Out of memory on the store's thread: the remote state is dropped.
  }
}


bool SetCore::WouldAdmit(std::string_view peer) {
  if (!CheckPeer(peer).ok()) return false;
  EpochGuard pin;
  Entry* e = FindLive(peer, PeerTable::Hash(peer));
  return e == nullptr || WouldAdmit(e);
}

bool SetCore::WouldAdmit(Entry* e) noexcept {
  return AdmitSlow(e, /*pin=*/0, /*status=*/nullptr, Mode::kDryRun).admitted();
}

}  // namespace circuit::internal
