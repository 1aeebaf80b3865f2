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

CircuitBreakerSet::Admission CircuitBreakerSet::admit(std::string_view peer,
                                                      bool want_status) {
  Admission a;
  a.peer = peer;
  if (absl::Status s = core_->CheckPeer(peer); !s.ok()) [[unlikely]] {
    a.bad_peer = true;
    a.status = std::move(s);
    return a;
  }
  internal::Admitted r =
      core_->Admit(peer, want_status ? &a.status : nullptr);
  if (r.decision.admitted) {
    a.context.emplace(core_->MakeContext(r));
  } else {
    a.retry_after = r.decision.retry_after_ns == INT64_MAX
                        ? absl::InfiniteDuration()
                        : absl::Nanoseconds(r.decision.retry_after_ns);
  }
  return a;
}

void CircuitBreakerSet::throw_rejection(const Admission& a) {
  if (a.bad_peer) throw std::invalid_argument(std::string(a.status.message()));
  throw CircuitOpenError(a.peer, a.retry_after);
}

Context CircuitBreakerSet::context(std::string_view peer) {
  Admission a = admit(peer, /*want_status=*/false);
  if (!a.context.has_value()) throw_rejection(a);
  return *std::move(a.context);
}

absl::StatusOr<Context> CircuitBreakerSet::try_context(std::string_view peer) {
  Admission a = admit(peer, /*want_status=*/true);
  if (!a.context.has_value()) return std::move(a.status);
  return *std::move(a.context);
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
}

// ---------------------------------------------------------------------------
// PeerHandle

PeerHandle::PeerHandle(internal::SetCore* core, internal::Entry* entry) noexcept
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
    if (entry_ != nullptr) core_->ReleaseHandle(entry_);
    core_ = other.core_;
    entry_ = std::exchange(other.entry_, nullptr);
  }
  return *this;
}

PeerHandle::~PeerHandle() {
  if (entry_ != nullptr) core_->ReleaseHandle(entry_);
}

Context PeerHandle::context() const {
  internal::Admitted r =
      core_->AdmitEntry(entry_, internal::Epoch::Pin(), nullptr);
  if (!r.decision.admitted) {
    throw CircuitOpenError(entry_->key(),
                           r.decision.retry_after_ns == INT64_MAX
                               ? absl::InfiniteDuration()
                               : absl::Nanoseconds(r.decision.retry_after_ns));
  }
  return core_->MakeContext(r);
}

absl::StatusOr<Context> PeerHandle::try_context() const {
  absl::Status status;
  internal::Admitted r =
      core_->AdmitEntry(entry_, internal::Epoch::Pin(), &status);
  if (!r.decision.admitted) return status;
  return core_->MakeContext(r);
}

State PeerHandle::state() const { return core_->StateOf(entry_); }

std::string_view PeerHandle::peer() const noexcept {
  return entry_ == nullptr ? std::string_view() : entry_->key();
}

}  // namespace circuit
