// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "circuit/breaker_set.h"

#include <stdexcept>
#include <string>
#include <utility>

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

}  // namespace

CircuitBreakerSet::Admission CircuitBreakerSet::admit(std::string_view peer,
                                                      bool want_status) {
  Admission a;
  a.peer = peer;
  Context ctx = SetCore::EmptyContext();
  internal::Rejection why;
  if (core_->AdmitInto(peer, &ctx, &why, want_status ? &a.status : nullptr))
      [[likely]] {
    a.context.emplace(std::move(ctx));
    return a;
  }
  a.bad_peer = why.bad_peer;
  if (a.bad_peer && !want_status) a.status = core_->CheckPeer(peer);
  a.retry_after = RetryAfter(why.retry_after_ns);
  return a;
}

void CircuitBreakerSet::throw_rejection(const Admission& a) {
  if (a.bad_peer) throw std::invalid_argument(std::string(a.status.message()));
  throw CircuitOpenError(a.peer, a.retry_after);
}

// context() and try_context() build the context in place (NRVO): no
// Admission, no optional, one move at most.
Context CircuitBreakerSet::context(std::string_view peer) {
  Context ctx = SetCore::EmptyContext();
  internal::Rejection why;
  if (!core_->AdmitInto(peer, &ctx, &why, nullptr)) [[unlikely]] {
    if (why.bad_peer) ThrowIfBad(core_->CheckPeer(peer));
    throw CircuitOpenError(peer, RetryAfter(why.retry_after_ns));
  }
  return ctx;
}

absl::StatusOr<Context> CircuitBreakerSet::try_context(std::string_view peer) {
  Context ctx = SetCore::EmptyContext();
  internal::Rejection why;
  absl::Status status;
  if (core_->AdmitInto(peer, &ctx, &why, &status)) [[likely]] return ctx;
  return status;
}

PeerHandle CircuitBreakerSet::handle(std::string_view peer) {
  ThrowIfBad(core_->CheckPeer(peer));
  return PeerHandle(core_.get(), core_->AcquireHandle(peer));
}

void CircuitBreakerSet::add_matcher(Matcher m, bool ignore) {
  core_->AddMatcher(m, ignore);
}

bool CircuitBreakerSet::status_is_failure(const absl::Status& s) const noexcept {
  return core_->StatusIsFailure(s);
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

std::size_t CircuitBreakerSet::sweep() { return core_->Sweep(); }

void CircuitBreakerSet::add_listener(std::shared_ptr<Listener> listener) {
  core_->events().AddListener(std::move(listener));
  core_->general.fetch_or(internal::CoreHot::kListening,
                         std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// PeerHandle

PeerHandle::PeerHandle(internal::CoreHot* core, internal::Entry* entry) noexcept
    : core_(core), entry_(entry) {}

PeerHandle::PeerHandle(const PeerHandle& other) noexcept
    : core_(other.core_), entry_(other.entry_) {
  // The other handle keeps the entry alive while we count ourselves in.
  if (entry_ != nullptr) entry_->handles.fetch_add(1, std::memory_order_relaxed);
}

PeerHandle& PeerHandle::operator=(const PeerHandle& other) noexcept {
  if (this != &other) {
    PeerHandle copy(other);
    *this = std::move(copy);
  }
  return *this;
}

PeerHandle::PeerHandle(PeerHandle&& other) noexcept
    : core_(other.core_), entry_(std::exchange(other.entry_, nullptr)) {}

PeerHandle& PeerHandle::operator=(PeerHandle&& other) noexcept {
  if (this != &other) {
    if (entry_ != nullptr) CoreOf(core_)->ReleaseHandle(entry_);
    core_ = other.core_;
    entry_ = std::exchange(other.entry_, nullptr);
  }
  return *this;
}

PeerHandle::~PeerHandle() {
  if (entry_ != nullptr) CoreOf(core_)->ReleaseHandle(entry_);
}

Context PeerHandle::context_slow() const {
  Context ctx = SetCore::EmptyContext();
  internal::Rejection why;
  if (!CoreOf(core_)->AdmitEntryInto(entry_, internal::Epoch::Pin(), &ctx, &why,
                             nullptr)) [[unlikely]] {
    throw CircuitOpenError(entry_->key(), RetryAfter(why.retry_after_ns));
  }
  return ctx;
}

absl::StatusOr<Context> PeerHandle::try_context() const {
  Context ctx = SetCore::EmptyContext();
  internal::Rejection why;
  absl::Status status;
  if (CoreOf(core_)->AdmitEntryInto(entry_, internal::Epoch::Pin(), &ctx, &why,
                            &status)) [[likely]] {
    return ctx;
  }
  return status;
}

State PeerHandle::state() const { return CoreOf(core_)->StateOf(entry_); }

std::string_view PeerHandle::peer() const noexcept {
  return entry_ == nullptr ? std::string_view() : entry_->key();
}

}  // namespace circuit

// ---------------------------------------------------------------------------
// Pools: picking a peer without wasting probes (issue 6)

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
  return CoreOf(core_)->WouldAdmit(entry_);
}

}  // namespace circuit
