// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "circuit/breaker_set.h"

#include <stdexcept>
#include <string>
#include <utility>

#include "absl/base/attributes.h"
#include "epoch.h"
#include "set_core.h"

namespace circuit {

using internal::SetCore;

namespace {

void ThrowIfBad(const absl::Status& s) {
  if (!s.ok()) throw std::invalid_argument(std::string(s.message()));
}

SetOptions Validated(SetOptions options) {
  ThrowIfBad(options.validate());
  return options;
}

}  // namespace

CircuitBreakerSet::CircuitBreakerSet(SetOptions options)
    : core_(std::make_unique<SetCore>(Validated(std::move(options)))) {}

CircuitBreakerSet::~CircuitBreakerSet() = default;

namespace {

// A handle keeps the CoreHot base of its set's SetCore.
SetCore* CoreOf(internal::CoreHot* core) { return static_cast<SetCore*>(core); }

absl::Duration RetryAfter(std::int64_t ns) {
  return ns == INT64_MAX ? absl::InfiniteDuration() : absl::Nanoseconds(ns);
}

// Throws what `v`'s refusal of `peer` is: std::invalid_argument for a bad
// peer id, CircuitOpenError, or ConcurrencyLimitError. Inlined into the
// form that throws: one frame fewer for the exception to unwind.
[[noreturn]] ABSL_ATTRIBUTE_ALWAYS_INLINE inline void ThrowRefusal(
    const SetCore& core, std::string_view peer, const internal::Verdict& v) {
  switch (v.refusal) {
    case internal::Refusal::kBadPeer:
      throw std::invalid_argument(std::string(core.CheckPeer(peer).message()));
    case internal::Refusal::kBusy:
      throw ConcurrencyLimitError(peer, v.limit);
    default:
      throw CircuitOpenError(peer, RetryAfter(v.retry_after_ns));
  }
}

}  // namespace

// The forms of admission: each asks the one engine (SetCore::Admit) and
// reports a refusal its own way.

CircuitBreakerSet::Admission CircuitBreakerSet::admit(std::string_view peer,
                                                      bool want_status) {
  Admission a;
  a.peer = peer;
  internal::Verdict v = core_->Admit(peer, want_status ? &a.status : nullptr);
  if (v.admitted()) [[likely]] {
    a.context.emplace(Context(core_.get(), v.ticket));
    return a;
  }
  switch (v.refusal) {
    case internal::Refusal::kBadPeer:
      a.refusal = Admission::Refusal::kBadPeer;
      if (!want_status) a.status = core_->CheckPeer(peer);
      break;
    case internal::Refusal::kBusy:
      a.refusal = Admission::Refusal::kBusy;
      a.limit = v.limit;
      break;
    default:
      a.refusal = Admission::Refusal::kOpen;
      a.retry_after = RetryAfter(v.retry_after_ns);
      break;
  }
  return a;
}

void CircuitBreakerSet::throw_rejection(const Admission& a) {
  switch (a.refusal) {
    case Admission::Refusal::kBadPeer:
      throw std::invalid_argument(std::string(a.status.message()));
    case Admission::Refusal::kBusy:
      throw ConcurrencyLimitError(a.peer, a.limit);
    default:
      throw CircuitOpenError(a.peer, a.retry_after);
  }
}

// context() looks a peer with a short id up itself and admits a closed
// breaker inline (SetCore::FindShort, SetCore::AdmitsQuietly). That step
// calls nothing and returns no verdict through memory; the engine's other
// steps are out of line (the lambdas). What it found, or did not, goes on
// to them with its pin: the peer is looked up once.
Context CircuitBreakerSet::context(std::string_view peer) {
  auto admit_found = [](SetCore* core, internal::Entry* e, std::uint32_t pin)
                         __attribute__((noinline)) {
    return core->AdmitEntry(e, pin, nullptr);
  };
  auto admit_new = [](SetCore* core, std::string_view id, std::uint64_t hash,
                      std::uint32_t pin) __attribute__((noinline)) {
    return core->AdmitNew(id, hash, pin, nullptr);
  };
  auto admit = [](SetCore* core, std::string_view id)
                   __attribute__((noinline)) { return core->Admit(id, nullptr); };
  SetCore* const core = core_.get();
  internal::ThreadHot* const thread = internal::epoch_detail::tl_record;
  internal::Verdict v;
  if (thread != nullptr && core->IsShortId(peer)) [[likely]] {
    const std::uint32_t pin = internal::EpochPin(thread);
    const std::uint64_t hash = internal::PeerTable::Hash(peer);
    internal::Entry* const e = core->FindShort(peer, hash);
    if (e != nullptr) [[likely]] {
      internal::Ticket ticket;
      if (core->AdmitsQuietly(e, &ticket.generation)) [[likely]] {
        ticket.breaker = &e->breaker;
        ticket.pin = pin;
        return Context(core, ticket, internal::UncaughtExceptions(thread));
      }
      v = admit_found(core, e, pin);
    } else {
      v = admit_new(core, peer, hash, pin);
    }
  } else {
    v = admit(core, peer);
  }
  if (v.admitted()) [[likely]] return Context(core, v.ticket);
  // Thrown from this frame: one frame fewer for the exception to unwind.
  ThrowRefusal(*core, peer, v);
}

absl::StatusOr<Context> CircuitBreakerSet::try_context(std::string_view peer) {
  absl::Status status;
  internal::Verdict v = core_->Admit(peer, &status);
  if (v.admitted()) [[likely]] return Context(core_.get(), v.ticket);
  return status;
}

PeerHandle CircuitBreakerSet::handle(std::string_view peer) {
  ThrowIfBad(core_->CheckPeer(peer));
  return PeerHandle(core_.get(), &core_->AcquireHandle(peer)->breaker);
}

void CircuitBreakerSet::add_matcher(Matcher m, bool ignore) {
  core_->AddMatcher(m, ignore);
}

bool CircuitBreakerSet::status_is_failure(const absl::Status& s) const noexcept {
  return core_->OutcomeOf(s) == internal::Outcome::kFailure;
}

void CircuitBreakerSet::open(std::string_view peer) {
  ThrowIfBad(core_->CheckPeer(peer));
  core_->Control(peer, SetCore::Manual::kOpen);
}

void CircuitBreakerSet::close(std::string_view peer) {
  ThrowIfBad(core_->CheckPeer(peer));
  core_->Control(peer, SetCore::Manual::kClose);
}

void CircuitBreakerSet::half_open(std::string_view peer) {
  ThrowIfBad(core_->CheckPeer(peer));
  core_->Control(peer, SetCore::Manual::kHalfOpen);
}

void CircuitBreakerSet::force_open(std::string_view peer) {
  ThrowIfBad(core_->CheckPeer(peer));
  core_->Control(peer, SetCore::Manual::kForceOpen);
}

void CircuitBreakerSet::disable(std::string_view peer) {
  ThrowIfBad(core_->CheckPeer(peer));
  core_->Control(peer, SetCore::Manual::kDisable);
}

void CircuitBreakerSet::configure(std::string_view peer,
                                  const BreakerOptions& options) {
  ThrowIfBad(core_->CheckPeer(peer));
  core_->Configure(peer, options);
}

State CircuitBreakerSet::state(std::string_view peer) const {
  return core_->StateOf(peer);
}

std::optional<PeerSnapshot> CircuitBreakerSet::snapshot(
    std::string_view peer) const {
  return core_->Snapshot(peer);
}

std::vector<PeerSnapshot> CircuitBreakerSet::snapshot() const {
  core_->Sweep();
  std::vector<PeerSnapshot> out;
  internal::EpochGuard pin;
  core_->ForEachEntry(
      [&](internal::Entry* e) { out.push_back(core_->SnapshotOf(e)); });
  return out;
}

std::size_t CircuitBreakerSet::size() const { return core_->Size(); }

std::size_t CircuitBreakerSet::evaluate_outliers() {
  return core_->EvaluateOutliers();
}

std::size_t CircuitBreakerSet::sweep() { return core_->Sweep(); }

void CircuitBreakerSet::add_listener(std::shared_ptr<Listener> listener) {
  core_->events().AddListener(std::move(listener));
  core_->general.fetch_or(internal::CoreHot::kListening,
                         std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// PeerHandle

PeerHandle::PeerHandle(internal::CoreHot* core,
                       internal::BreakerHot* breaker) noexcept
    : core_(core), breaker_(breaker) {}

PeerHandle::PeerHandle(const PeerHandle& other) noexcept
    : core_(other.core_), breaker_(other.breaker_) {
  // The other handle keeps the entry alive while we count ourselves in.
  if (breaker_ != nullptr) {
    internal::Entry::Of(breaker_)->handles.fetch_add(1, std::memory_order_relaxed);
  }
}

PeerHandle& PeerHandle::operator=(const PeerHandle& other) noexcept {
  if (this != &other) {
    PeerHandle copy(other);
    *this = std::move(copy);
  }
  return *this;
}

PeerHandle::PeerHandle(PeerHandle&& other) noexcept
    : core_(other.core_), breaker_(std::exchange(other.breaker_, nullptr)) {}

PeerHandle& PeerHandle::operator=(PeerHandle&& other) noexcept {
  if (this != &other) {
    if (breaker_ != nullptr) CoreOf(core_)->ReleaseHandle(internal::Entry::Of(breaker_));
    core_ = other.core_;
    breaker_ = std::exchange(other.breaker_, nullptr);
  }
  return *this;
}

PeerHandle::~PeerHandle() {
  if (breaker_ != nullptr) CoreOf(core_)->ReleaseHandle(internal::Entry::Of(breaker_));
}

Context PeerHandle::context_slow() const {
  internal::Verdict v = CoreOf(core_)->AdmitEntry(
      internal::Entry::Of(breaker_), internal::Epoch::Pin(), nullptr);
  if (v.admitted()) [[likely]] return Context(core_, v.ticket);
  ThrowRefusal(*CoreOf(core_), peer(), v);
}

absl::StatusOr<Context> PeerHandle::try_context() const {
  absl::Status status;
  internal::Verdict v = CoreOf(core_)->AdmitEntry(
      internal::Entry::Of(breaker_), internal::Epoch::Pin(), &status);
  if (v.admitted()) [[likely]] return Context(core_, v.ticket);
  return status;
}

State PeerHandle::state() const {
  return CoreOf(core_)->StateOf(internal::Entry::Of(breaker_));
}

std::string_view PeerHandle::peer() const noexcept {
  return breaker_ == nullptr ? std::string_view() : internal::PeerOf(breaker_);
}

}  // namespace circuit

// ---------------------------------------------------------------------------
// Pools: picking a peer without wasting probes

namespace circuit {
namespace {

// Walks `peers` from `start`, wrapping around: skips those `would(peer)`
// says no to, and returns the first `admit(peer)` admits.
template <class Peers, class Would, class Admit>
std::optional<Pick> FirstAdmitting(const Peers& peers, std::size_t start,
                                   Would would, Admit admit) {
  const std::size_t n = peers.size();
  if (n == 0) return std::nullopt;
  start %= n;
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t i = start + k < n ? start + k : start + k - n;
    if (!would(peers[i])) continue;
    absl::StatusOr<Context> ctx = admit(peers[i]);
    if (ctx.ok()) return Pick{i, *std::move(ctx)};
  }
  return std::nullopt;
}

}  // namespace

bool CircuitBreakerSet::would_admit(std::string_view peer) const {
  return core_->WouldAdmit(peer);
}

std::optional<Pick> CircuitBreakerSet::first_admitting(
    std::span<const std::string_view> peers, std::size_t start) {
  return FirstAdmitting(
      peers, start,
      [this](std::string_view p) { return core_->WouldAdmit(p); },
      [this](std::string_view p) { return try_context(p); });
}

std::optional<Pick> CircuitBreakerSet::first_admitting(
    std::span<const std::string> peers, std::size_t start) {
  return FirstAdmitting(
      peers, start,
      [this](const std::string& p) { return core_->WouldAdmit(p); },
      [this](const std::string& p) { return try_context(p); });
}

std::optional<Pick> CircuitBreakerSet::first_admitting(
    std::span<const PeerHandle> peers, std::size_t start) {
  return FirstAdmitting(
      peers, start,
      [](const PeerHandle& h) {
        return static_cast<bool>(h) && h.would_admit();
      },
      [](const PeerHandle& h) { return h.try_context(); });
}

bool PeerHandle::would_admit() const {
  return CoreOf(core_)->WouldAdmit(internal::Entry::Of(breaker_));
}

}  // namespace circuit
