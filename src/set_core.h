// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The engine behind `CircuitBreakerSet`, `Context` and `PeerHandle`: ties the
// peer table, the breakers, events and the optional store together.
//
// Every path that touches an entry is pinned (epoch.h) from before its
// lookup until after its last use of the entry; a context keeps its pin
// until it is settled.
//
// An entry found without the table mutex may be retired (dropped from the
// table: peer_table.h) by the time it is used. Admissions and manual
// changes then look the peer up again, and an outcome is recorded on the
// peer's live entry (SettleOnLive), made anew if need be.

#ifndef CIRCUIT_SRC_SET_CORE_H_
#define CIRCUIT_SRC_SET_CORE_H_

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "breaker.h"
#include "circuit/breaker_set.h"
#include "circuit/context.h"
#include "circuit/internal/hot_path.h"
#include "circuit/options.h"
#include "circuit/state_store.h"
#include "epoch.h"
#include "events.h"
#include "peer_table.h"
#include "sync.h"

namespace circuit::internal {

using Matcher = bool (*)(const std::exception_ptr&);

// What admission decided, before it is shaped into an exception or status.
struct Admitted {
  Decision decision;
  std::int64_t start_ns = kUntimed;
};

// Why AdmitInto() did not admit.
struct Rejection {
  bool bad_peer = false;            // the peer id is empty or too long
  std::int64_t retry_after_ns = 0;  // INT64_MAX: forced open
};

// CoreHot comes first: Context and PeerHandle hold a CoreHot* and the
// inline hot path reads its flags (circuit/internal/hot_path.h).
class SetCore final : public CoreHot, public StoreSink {
 public:
  explicit SetCore(SetOptions options);  // REQUIRES: options validated
  ~SetCore() override;

  // ---------------------------------------------------------------------
  // The hot path, inline (see the bottom of this file): admission and
  // settling of a closed breaker go through a handful of loads and stores
  // and no out-of-line call; every other case falls back to the general
  // functions below.

  // An empty context, for AdmitInto to fill.
  static Context EmptyContext() noexcept { return Context(); }

  // SetCore::AdmitInto()
  //
  // Admits a call to `peer` (creating it if needed) into the empty `*ctx`
  // and returns true; or returns false and fills `*why`, and `*status` when
  // not null (the peer's kUnavailable, or kInvalidArgument for a bad id).
  // May throw std::bad_alloc (creating a peer).
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool AdmitInto(std::string_view peer,
                                              Context* ctx, Rejection* why,
                                              absl::Status* status);
  // As AdmitInto for an entry already found and pinned (`pin`); the pin is
  // handed to the context, or released when rejected or on a throw. May
  // throw std::bad_alloc (re-creating a peer whose entry was retired).
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool AdmitEntryInto(Entry* e, std::uint32_t pin,
                                                   Context* ctx, Rejection* why,
                                                   absl::Status* status);

  // SetCore::SettleFast()
  //
  // As Settle(); a closed-state success is recorded inline.
  void SettleFast(Entry* e, std::uint64_t generation, bool probe,
                  Outcome outcome, std::int64_t start_ns,
                  std::uint32_t pin) noexcept;

  // Validates a peer id: OK or kInvalidArgument naming what is wrong.
  absl::Status CheckPeer(std::string_view peer) const;

  // Records an outcome and releases the context's pin.
  void Settle(Entry* e, std::uint64_t generation, bool probe, Outcome outcome,
              std::int64_t start_ns, std::uint32_t pin) noexcept;

  Outcome Classify(const std::exception_ptr& e) const noexcept;
  bool StatusIsFailure(const absl::Status& s) const noexcept;
  void AddMatcher(Matcher m, bool ignore);

  // Manual control; each pins, creates the peer if needed, and reports.
  enum class Manual { kOpen, kClose, kHalfOpen, kForceOpen, kDisable };
  void Control(std::string_view peer, Manual what);
  void Configure(std::string_view peer, const BreakerOptions& options);

  State StateOf(std::string_view peer) const;
  State StateOf(Entry* e) const noexcept;
  std::optional<PeerSnapshot> Snapshot(std::string_view peer) const;
  PeerSnapshot SnapshotOf(Entry* e) const;

  // Handles.
  Entry* AcquireHandle(std::string_view peer);
  void ReleaseHandle(Entry* e) noexcept;

  std::size_t Size();
  std::size_t Sweep();

  // Calls f(Entry*) for every tracked peer. REQUIRES: pinned.
  template <class F>
  void ForEachEntry(F&& f) const {
    table_.ForEach(std::forward<F>(f));
  }

  Events& events() noexcept { return events_; }
  const Clock& clock() const noexcept { return *clock_; }

  // -------------------------------------------------------------------
  // Pools (issue 6)

  // Whether Admit() would admit now, without side effects; an unknown peer
  // reads true, a bad peer id false.
  bool WouldAdmit(std::string_view peer) const;
  bool WouldAdmit(Entry* e) const noexcept;

  // StoreSink
  void apply_remote(std::string_view peer, State state,
                    absl::Duration remaining, std::uint64_t epoch) override;

 private:
  // The clock in nanoseconds; the default clock is read directly.
  std::int64_t NowNs() const noexcept;
  // A cheap reading of the clock and how far behind it may be: the coarse
  // monotonic clock and `coarse_slack_ns_` for the default clock, else the
  // exact time and 0.
  std::int64_t CoarseNowNs(std::int64_t* slack_ns) const noexcept;

  // Fills an admitted context.
  void Arm(Context* ctx, Entry* e, std::uint64_t generation,
           std::int64_t start_ns, std::uint32_t pin, bool probe) noexcept;
  // The out-of-line parts of AdmitInto / AdmitEntryInto.
  bool RejectBadPeer(std::string_view peer, Rejection* why,
                     absl::Status* status) const;
  Entry* CreatePinned(std::string_view peer, std::uint64_t hash,
                      std::uint32_t pin);
  bool AdmitEntrySlow(Entry* e, std::uint32_t pin, Context* ctx,
                      Rejection* why, absl::Status* status);
  // Asks `e`'s breaker; when it admits, the pin is kept for the context;
  // when it rejects, the pin is released; when it is retired, nothing is
  // done (decision.retired).
  Admitted AdmitEntry(Entry* e, std::uint32_t pin, absl::Status* status);

  struct Classifier {
    std::vector<Matcher> handled;
    std::vector<Matcher> ignored;
  };
  static void DeleteClassifier(void* p) noexcept;

  // The policy for a new peer (configure() > options_for > defaults).
  // Calls options_for outside every lock.
  const Policy* PolicyForNewPeer(std::string_view peer);
  // Returns the interned policy for `options` (validated).
  const Policy* Intern(const BreakerOptions& options)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // SetCore::FindOrCreate()
  //
  // The peer's live entry; when there is none, creates it (see Adopt), and
  // with `take_handle` counts a handle on it either way. May throw
  // std::bad_alloc. REQUIRES: pinned.
  Entry* FindOrCreate(std::string_view peer, std::uint64_t hash,
                      bool take_handle = false);
  // What every new entry `e` of `peer`, made with `used`, goes through: the
  // peer's configure() override if one came meanwhile, then the cap and the
  // idle sweep.
  void Adopt(Entry* e, std::string_view peer, const Policy* used);
  // The peer's entry unless there is none or it is retired. REQUIRES: pinned.
  Entry* FindLive(std::string_view peer, std::uint64_t hash) const noexcept;
  // Records on the live entry of `dropped`'s peer an outcome that found
  // `dropped` retired (`late`: see Settled::retired), filling `*s`. Returns
  // that entry, or null when there was no memory to make it (the outcome is
  // then lost with its peer). REQUIRES: pinned.
  Entry* SettleOnLive(Entry* dropped, bool late, Outcome outcome,
                      std::int64_t start_ns, Settled* s) noexcept;
  // Applies `change` (Breaker& -> Transition) to the peer's live entry,
  // created if need be, and returns that entry, the transition in `*t`.
  // May throw std::bad_alloc. REQUIRES: pinned.
  template <class F>
  Entry* ChangeLive(std::string_view peer, std::uint64_t hash, F change,
                    Transition* t);
  // Control's change to one breaker.
  Transition Apply(Breaker& b, Manual what) const noexcept;
  void Report(Entry* e, const Transition& t) noexcept;
  void MaybeSweep();

  // Constant after construction.
  const SetOptions options_;
  const Clock* const clock_;
  // For the default clock: how far CLOCK_MONOTONIC_COARSE may lag
  // CLOCK_MONOTONIC (two of its ticks); -1 when it is not to be used.
  const std::int64_t coarse_slack_ns_;
  const std::uint64_t seed_;
  const std::uint32_t failure_code_mask_;
  const std::int64_t idle_ns_;
  const Policy* default_policy_ = nullptr;  // owned by policies_

  // Has its own synchronization.
  PeerTable table_;
  Events events_;
  std::atomic<const Classifier*> classifier_{nullptr};
  std::shared_ptr<StateStore> store_;

  // Protected by mu_.
  mutable Mutex mu_;
  std::vector<std::unique_ptr<Policy>> policies_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, const Policy*> overrides_
      ABSL_GUARDED_BY(mu_);
  std::int64_t last_sweep_ns_ ABSL_GUARDED_BY(mu_) = 0;
};

// ---------------------------------------------------------------------------
// The hot path

inline void SetCore::Arm(Context* ctx, Entry* e, std::uint64_t generation,
                         std::int64_t start_ns, std::uint32_t pin,
                         bool probe) noexcept {
  ctx->core_ = this;
  ctx->entry_ = e;
  ctx->generation_ = generation;
  ctx->start_ns_ = start_ns;
  ctx->uncaught_ = UncaughtExceptions();
  ctx->epoch_ = pin;
  ctx->probe_ = probe;
}

inline bool SetCore::AdmitInto(std::string_view peer, Context* ctx,
                               Rejection* why, absl::Status* status) {
  if (peer.empty() || peer.size() > options_.max_peer_id_bytes) [[unlikely]] {
    return RejectBadPeer(peer, why, status);
  }
  std::uint32_t pin = Epoch::Pin();
  std::uint64_t hash = PeerTable::Hash(peer);
  Entry* e = table_.Find(peer, hash);
  if (e == nullptr) [[unlikely]] e = CreatePinned(peer, hash, pin);
  return AdmitEntryInto(e, pin, ctx, why, status);
}

inline bool SetCore::AdmitEntryInto(Entry* e, std::uint32_t pin, Context* ctx,
                                    Rejection* why, absl::Status* status) {
  std::uint64_t generation;
  if (e->breaker.AdmitsClosed(&generation)) [[likely]] {
    table_.Touch(e);
    if (events_.has_listeners()) [[unlikely]] events_.BeforeCall(e->key());
    Arm(ctx, e, generation, kUntimed, pin, /*probe=*/false);
    return true;
  }
  return AdmitEntrySlow(e, pin, ctx, why, status);
}

inline void SetCore::SettleFast(Entry* e, std::uint64_t generation, bool probe,
                                Outcome outcome, std::int64_t start_ns,
                                std::uint32_t pin) noexcept {
  if (outcome == Outcome::kSuccess &&
      e->breaker.SettleClosedSuccess(generation)) [[likely]] {
    if (events_.has_listeners()) [[unlikely]] events_.Success(e->key());
    Epoch::Unpin(pin);
    return;
  }
  Settle(e, generation, probe, outcome, start_ns, pin);
}

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_SET_CORE_H_
