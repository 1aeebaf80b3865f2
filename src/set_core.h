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

// Why the admission engine refused a call.
enum class Refusal : std::uint8_t {
  kNone,     // admitted
  kOpen,     // open, forced open, or half-open with every probe slot taken
  kBusy,     // the bulkhead is full (max_concurrent_calls)
  kBadPeer,  // the peer id is empty or too long
};

// Verdict
//
// What the admission engine decided: an admitted ticket, or a refusal and
// its reason. The forms of admission (context, try_context, call, handles,
// first_admitting) differ only in how they report a refusal.
struct Verdict {
  Ticket ticket;  // admitted when ticket.breaker is set
  Refusal refusal = Refusal::kNone;
  std::int64_t retry_after_ns = 0;  // kOpen; INT64_MAX: forced open
  std::int32_t limit = 0;           // kBusy: max_concurrent_calls

  bool admitted() const noexcept { return ticket.breaker != nullptr; }

  static Verdict Open(std::int64_t retry_after_ns) noexcept {
    Verdict v;
    v.refusal = Refusal::kOpen;
    v.retry_after_ns = retry_after_ns;
    return v;
  }
  static Verdict Busy(std::int32_t limit) noexcept {
    Verdict v;
    v.refusal = Refusal::kBusy;
    v.limit = limit;
    return v;
  }
};

// CoreHot comes first: Context and PeerHandle hold a CoreHot* and the
// inline hot path reads its flags (circuit/internal/hot_path.h).
class SetCore final : public CoreHot, public StoreSink {
 public:
  explicit SetCore(SetOptions options);  // REQUIRES: options validated
  ~SetCore() override;

  // ---------------------------------------------------------------------
  // The admission engine. Its first step is the inline one of
  // circuit/internal/hot_path.h (a plainly closed breaker in a set that
  // neither listens nor evicts), then a closed breaker (recency, listeners)
  // or one whose bulkhead has a free slot,
  // then everything else out of line.

  // SetCore::Admit()
  //
  // Admits a call to `peer` (creating it if needed), or refuses it; on a
  // refusal fills `*status` when not null (the peer's kUnavailable, its
  // kResourceExhausted when the bulkhead is full, or kInvalidArgument for a
  // bad id). The ticket holds a pin until settled; when the peer has a
  // bulkhead, a slot too.
  // May throw std::bad_alloc (creating a peer).
  ABSL_ATTRIBUTE_ALWAYS_INLINE Verdict Admit(std::string_view peer,
                                             absl::Status* status);
  // The same for the calling thread, whose record is `thread` (the caller
  // reads it once for the pin and the context).
  ABSL_ATTRIBUTE_ALWAYS_INLINE Verdict Admit(std::string_view peer,
                                             absl::Status* status,
                                             ThreadHot* thread);
  // The engine's lookup, for callers that admit by themselves first
  // (context()). A short id (at most max_peer_id_bytes and
  // Entry::kInlineKey bytes, and not empty) is valid and kept inline in its
  // entry, so FindShort finds it calling nothing. REQUIRES (FindShort):
  // pinned, and a short id.
  bool IsShortId(std::string_view peer) const noexcept {
    return peer.size() - 1 < short_id_bytes_;  // empty: size - 1 wraps
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE Entry* FindShort(
      std::string_view peer, std::uint64_t hash) const noexcept {
    return table_.FindShort(peer, hash);
  }
  // As AdmitEntry for a peer that the caller, pinned (`pin`), did not find:
  // creates it. May throw std::bad_alloc (the pin released).
  Verdict AdmitNew(std::string_view peer, std::uint64_t hash,
                   std::uint32_t pin, absl::Status* status);

  // The engine's closed admission, without the set's part (recency,
  // listeners): when `e`'s breaker is closed and its calls need no timing,
  // takes its bulkhead slot if it has one, sets `*generation` and returns
  // true; otherwise returns false having done nothing.
  ABSL_ATTRIBUTE_ALWAYS_INLINE static bool AdmitsClosedCall(
      Entry* e, std::uint64_t* generation) noexcept;

  // SetCore::AdmitsQuietly()
  //
  // AdmitEntry's closed admission when the set has no listener (nothing to
  // call): when `e`'s breaker is closed and needs no timing, takes its
  // bulkhead slot if it has one, keeps its recency if the set evicts, sets
  // `*generation` and returns true. Otherwise returns false having done
  // nothing, for AdmitEntry.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool AdmitsQuietly(
      Entry* e, std::uint64_t* generation) noexcept;
  // As Admit for an entry already found and pinned (`pin`); the pin goes to
  // the ticket, or is released when refused or on a throw. May throw
  // std::bad_alloc (re-creating a peer whose entry was retired).
  ABSL_ATTRIBUTE_ALWAYS_INLINE Verdict AdmitEntry(Entry* e, std::uint32_t pin,
                                                  absl::Status* status);

  // SetCore::WouldAdmit()
  //
  // The engine's decision in its dry-run mode: no probe slot or bulkhead
  // slot taken, no rejection counted, no transition, no listener, nothing
  // created. An unknown peer reads true, a bad peer id false.
  bool WouldAdmit(std::string_view peer);
  bool WouldAdmit(Entry* e) noexcept;

  // ---------------------------------------------------------------------
  // The settle engine (CoreHot). Its first step is inline too
  // (SettlePlainSuccess in circuit/internal/hot_path.h).

  void Settle(const Ticket& ticket, Outcome outcome) noexcept override;
  Outcome Classify(const std::exception_ptr& e) const noexcept override;
  Outcome OutcomeOf(const absl::Status& s) const noexcept override;

  // Validates a peer id: OK or kInvalidArgument naming what is wrong.
  absl::Status CheckPeer(std::string_view peer) const;


  // SetCore::EvaluateOutliers()
  //
  // One outlier evaluation at `now_ns` (OutlierOptions); returns how many
  // peers it ejected (or detected, when not enforced). The next automatic
  // one is due an interval later.
  std::size_t EvaluateOutliers(std::int64_t now_ns);
  std::size_t EvaluateOutliers() { return EvaluateOutliers(NowNs()); }

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

  // The out-of-line parts of the admission engine.
  Verdict RefuseBadPeer(std::string_view peer, absl::Status* status) const;
  Entry* CreatePinned(std::string_view peer, std::uint64_t hash,
                      std::uint32_t pin);
  // How the engine acts on its decision.
  enum class Mode { kAdmit, kDryRun };
  // The engine past its inline first steps. kDryRun decides only: `pin`
  // and `status` are not used, and an admitting verdict holds nothing.
  Verdict AdmitSlow(Entry* e, std::uint32_t pin, absl::Status* status,
                    Mode mode = Mode::kAdmit);
  // Carries out a refusal of `e` (kOpen until `retry_after_ns`, or kBusy at
  // `limit`): counted, reported to listeners, its status into `*status`
  // when not null; releases the pin. Returns the refusing verdict, built in
  // place (a verdict passed in would be copied out with wide loads of its
  // just-stored fields: a store-forwarding stall on every rejection).
  Verdict Refuse(Entry* e, std::uint32_t pin, Refusal refusal,
                 std::int64_t retry_after_ns, std::int32_t limit,
                 absl::Status* status) noexcept;
  // Runs an outlier evaluation when one is due at `now_ns`.
  void MaybeEvaluate(std::int64_t now_ns) noexcept;
  // Reports a suppressed trip of `e` at `now_ns`.
  void ReportSuppressed(Entry* e, std::int64_t now_ns) noexcept;
  // The settle engine past its first step.
  void SettleGeneral(Entry* e, const Ticket& ticket, Outcome outcome) noexcept;

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
  // The longest peer id IsShortId takes: valid, and kept inline.
  const std::size_t short_id_bytes_;
  const std::uint64_t seed_;
  const std::uint32_t failure_code_mask_;
  const std::int64_t idle_ns_;
  const Policy* default_policy_ = nullptr;  // owned by policies_
  // Outlier detection: whether any rule is on, and its interval.
  const bool judging_;
  const std::int64_t outlier_interval_ns_;

  // Has its own synchronization. The budget (max_open_fraction < 1, else
  // null) outlives the table, whose breakers count themselves in it.
  const std::unique_ptr<OpenBudget> budget_;
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
  // Whether overrides_ was ever written (set under mu_, never cleared): until
  // then a new peer's policy is the default one, found without the lock.
  std::atomic<std::uint8_t> configured_{0};

  // When the next automatic outlier evaluation is due.
  std::atomic<std::int64_t> next_evaluation_ns_{0};
  // Serialises gathering an evaluation's figures (a leaf: held over no
  // other lock of the set's, nor over listeners).
  Mutex evaluation_mu_;
};

// ---------------------------------------------------------------------------
// The admission engine, inline

inline Verdict SetCore::Admit(std::string_view peer, absl::Status* status) {
  return Admit(peer, status, ThisThread());
}

inline Verdict SetCore::Admit(std::string_view peer, absl::Status* status,
                              ThreadHot* thread) {
  // Empty (size - 1 wraps) or too long, in one comparison.
  if (peer.size() - 1 >= options_.max_peer_id_bytes) [[unlikely]] {
    return RefuseBadPeer(peer, status);
  }
  std::uint32_t pin = EpochPin(thread);
  std::uint64_t hash = PeerTable::Hash(peer);
  Entry* e = table_.Find(peer, hash);
  if (e == nullptr) [[unlikely]] e = CreatePinned(peer, hash, pin);
  return AdmitEntry(e, pin, status);
}

inline bool SetCore::AdmitsClosedCall(Entry* e,
                                      std::uint64_t* generation) noexcept {
  return e->breaker.AdmitsClosed(generation) ||
         e->breaker.AdmitsClosedTakingSlot(generation);
}

inline bool SetCore::AdmitsQuietly(Entry* e,
                                   std::uint64_t* generation) noexcept {
  const std::uint8_t flags = general.load(std::memory_order_relaxed);
  if ((flags & kListening) != 0 || !AdmitsClosedCall(e, generation))
      [[unlikely]] {
    return false;
  }
  if (flags != 0) table_.Touch(e);
  return true;
}

inline Verdict SetCore::AdmitEntry(Entry* e, std::uint32_t pin,
                                   absl::Status* status) {
  Verdict v;
  // The closed admission (AdmitsPlainly but for the set's flags, which are
  // read once, after it).
  if (AdmitsClosedCall(e, &v.ticket.generation)) [[likely]] {
    if (general.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      table_.Touch(e);
      if (events_.has_listeners()) events_.BeforeCall(e->key());
    }
    v.ticket.breaker = &e->breaker;
    v.ticket.pin = pin;
    return v;
  }
  return AdmitSlow(e, pin, status);
}

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_SET_CORE_H_
