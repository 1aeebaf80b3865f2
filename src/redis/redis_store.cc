// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// RedisStore: the units of src/redis/ put together, and the deliveries of
// fleet decisions to the attached sets.
//
//   protocol.h    wire forms: script arguments, replies, messages
//   connection.h  one blocking hiredis connection; reconnect backoff
//   flusher.h     the pending batch and the flusher thread (command link)
//   subscriber.h  the pub/sub thread
//   health.h      link health and the counters behind stats()
//   fleet_view.h  what both threads hand decoded decisions to (Impl below)
//
// Deliveries. StoreSink leaves ordering to the store: each set gets a
// peer's decisions in epoch order (within one incarnation of Redis's
// data), stale ones dropped. deliver_mu_ serialises deliveries (the
// flusher applies flush and snapshot replies, the subscriber applies
// messages) and LearnLocked() drops what is older than the epoch known;
// deliver_mu_ is held while sinks are called, and only Deliver() takes it. The attached sinks live in reference-counted
// slots under sinks_mu_, which is never held while a sink is called: a
// delivery marks its slot as the one being called, calls the sink unlocked,
// and clears the mark. detach() removes the slot and waits only for that
// sink's own call in flight (never for another set's listener, never on
// deliver_mu_); from inside that very call it returns at once. So
// apply_remote() runs with deliver_mu_ alone held, and a listener it
// reaches may call back into the set and the store, including attaching
// and detaching sets.
//
// Lock order: deliver_mu_ before known_mu_, sinks_mu_ and the flusher's
// lock (a listener reached from a delivery may report a transition).
// known_mu_ and sinks_mu_ are never held together, nor with the flusher's
// lock, which is a leaf. The annotations on the members let clang's
// -Wthread-safety check what it can see of this.

#include "circuit/redis_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "arith.h"
#include "redis/connection.h"
#include "redis/fleet_view.h"
#include "redis/flusher.h"
#include "redis/health.h"
#include "redis/protocol.h"
#include "redis/subscriber.h"
#include "sync.h"

namespace circuit {

namespace redis = internal::redis;

absl::Status RedisOptions::validate() const {
  auto bad = [](std::string_view field, std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("RedisOptions::", absl::string_view(field.data(), field.size()),
                     " ", absl::string_view(why.data(), why.size())));
  };
  if (host.empty()) return bad("host", "is empty");
  if (port < 1 || port > 65535) {
    return bad("port", absl::StrCat("is ", port, "; it must be in 1..65535"));
  }
  if (key_prefix.empty() || key_prefix.size() > 128) {
    return bad("key_prefix", "must be 1..128 bytes long");
  }
  for (char c : key_prefix) {
    auto u = static_cast<unsigned char>(c);
    if (c == '{' || c == '}' || c == ' ' || u < 0x20 || u == 0x7f) {
      return bad("key_prefix",
                 "must not contain '{', '}', spaces or control characters");
    }
  }
  auto positive = [&](std::string_view field, absl::Duration d) {
    return d > absl::ZeroDuration() && d < absl::InfiniteDuration()
               ? absl::OkStatus()
               : bad(field, "must be positive and finite");
  };
  for (auto [field, d] : {std::pair<std::string_view, absl::Duration>{
                              "connect_timeout", connect_timeout},
                          {"command_timeout", command_timeout},
                          {"flush_interval", flush_interval},
                          {"probe_lease", probe_lease},
                          {"resync_interval", resync_interval},
                          {"keepalive_interval", keepalive_interval},
                          {"backoff_base", backoff_base},
                          {"backoff_max", backoff_max}}) {
    if (absl::Status s = positive(field, d); !s.ok()) return s;
  }
  if (expedite_delay < absl::ZeroDuration() || expedite_delay > flush_interval) {
    return bad("expedite_delay", "must be in [0, flush_interval]");
  }
  if (backoff_base > backoff_max) {
    return bad("backoff_base", "must not exceed backoff_max");
  }
  if (batch_max_peers < 1 || batch_max_peers > 4096) {
    return bad("batch_max_peers", "must be in 1..4096");
  }
  if (max_pending_peers < 1) return bad("max_pending_peers", "must be >= 1");
  if (min_reporters < 1) return bad("min_reporters", "must be >= 1");
  return absl::OkStatus();
}

namespace {

using redis::SteadyClock;

// The most peers whose latest epoch is remembered; beyond it closed peers
// are forgotten first.
constexpr std::size_t kMaxKnownPeers = std::size_t{1} << 20;

std::string NewInstanceId() {
  std::random_device rd;
  std::uint64_t a = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  a ^= static_cast<std::uint64_t>(getpid()) << 17;
  a ^= static_cast<std::uint64_t>(SteadyClock::now().time_since_epoch().count());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(internal::Mix(a)));
  return buf;
}

}  // namespace

class RedisStore::Impl final : public redis::FleetView {
 public:
  explicit Impl(RedisOptions options);
  ~Impl() override;

  void Attach(StoreSink* sink, const BreakerOptions& defaults)
      ABSL_LOCKS_EXCLUDED(sinks_mu_);
  void Detach(StoreSink* sink) ABSL_LOCKS_EXCLUDED(sinks_mu_);
  void RecordFailure(std::string_view peer) { flusher_.AddFailure(peer); }
  void RecordTransition(std::string_view peer, State from, State to,
                        absl::Duration open_for) ABSL_LOCKS_EXCLUDED(known_mu_);
  bool Healthy() const { return health_.healthy(); }
  RedisStats Stats() const { return counters_.Snapshot(); }
  const std::string& instance() const { return instance_; }

  // FleetView
  void Deliver(const redis::Updates& batch, redis::Reapply reapply) override
      ABSL_LOCKS_EXCLUDED(deliver_mu_, known_mu_, sinks_mu_);
  redis::Beliefs Believed(std::size_t max) override ABSL_LOCKS_EXCLUDED(known_mu_);

 private:
  // The latest decision seen about one peer.
  struct Known {
    std::uint64_t epoch = 0;
    redis::FleetState state = redis::FleetState::kClosed;
  };
  // One attached sink. The attached list holds a reference, and so does a
  // delivery while it runs, so a slot detached during a delivery stays
  // valid (and keeps its identity) until that delivery is over.
  struct SinkSlot {
    explicit SinkSlot(StoreSink* s) : sink(s) {}
    StoreSink* const sink;
  };
  using SlotRef = std::shared_ptr<const SinkSlot>;

  // Records `u` (of incarnation `inc`) unless an equal or newer epoch is
  // known (equal is new again with `reapply`); false: nothing to deliver.
  bool LearnLocked(const std::string& inc, const redis::Update& u, bool reapply)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(known_mu_);
  // What `u` means here: the local state and what is left of it; false
  // when there is nothing to tell the sets.
  bool ToLocal(const redis::Update& u, State* state, absl::Duration* remaining) const;
  // Calls `slot`'s sink unless it was detached; marks it as being called.
  void CallSink(const SinkSlot* slot, std::string_view peer, State state,
                absl::Duration remaining, std::uint64_t epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(deliver_mu_) ABSL_LOCKS_EXCLUDED(sinks_mu_);
  bool AttachedLocked(const SinkSlot* slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(sinks_mu_);

  // Constant after construction.
  const RedisOptions options_;
  const std::string instance_;
  const redis::Keys keys_;

  // Lock-free.
  redis::Counters counters_;
  redis::Health health_;
  redis::Backoff backoff_;

  // Serialises deliveries; held while sinks are called (file comment), so
  // a listener may report a transition to the flusher under it.
  internal::Mutex deliver_mu_ ABSL_ACQUIRED_BEFORE(known_mu_, sinks_mu_, flusher_.lock());

  // The latest epoch seen per peer, under Redis's incarnation inc_.
  internal::Mutex known_mu_ ABSL_ACQUIRED_AFTER(deliver_mu_);
  std::string inc_ ABSL_GUARDED_BY(known_mu_);
  absl::flat_hash_map<std::string, Known> known_ ABSL_GUARDED_BY(known_mu_);

  // The attached sinks, in attach order; never held while a sink is called.
  // sinks_cv_ wakes a detach() waiting for its sink's call to end.
  internal::Mutex sinks_mu_ ABSL_ACQUIRED_AFTER(deliver_mu_);
  std::condition_variable_any sinks_cv_;
  std::vector<SlotRef> sinks_ ABSL_GUARDED_BY(sinks_mu_);
  // The slot whose sink a delivery is calling, and the thread doing it (at
  // most one at a time: deliver_mu_).
  const SinkSlot* calling_ ABSL_GUARDED_BY(sinks_mu_) = nullptr;
  std::thread::id calling_thread_ ABSL_GUARDED_BY(sinks_mu_);
  int detach_waiters_ ABSL_GUARDED_BY(sinks_mu_) = 0;

  // The threads; started last, stopped first.
  redis::Flusher flusher_;
  redis::Subscriber subscriber_;
};

RedisStore::Impl::Impl(RedisOptions options)
    : options_(std::move(options)),
      instance_(NewInstanceId()),
      keys_(options_.key_prefix),
      health_(options_),
      backoff_(std::hash<std::string>()(instance_), options_.backoff_base,
               options_.backoff_max),
      flusher_(options_, keys_, instance_, this, &counters_, &health_, &backoff_),
      // Messages may have been missed while unsubscribed: resync.
      subscriber_(options_, keys_, this, [this] { flusher_.RequestResync(); },
                  &counters_, &health_, &backoff_) {
  flusher_.Start();
  try {
    subscriber_.Start();
  } catch (...) {
    flusher_.RequestStop();
    flusher_.Join();
    throw;
  }
}

RedisStore::Impl::~Impl() {
  // Both threads stop at once; each waits at most for its own I/O in flight.
  flusher_.RequestStop();
  subscriber_.RequestStop();
  flusher_.Join();
  subscriber_.Join();
}

// ---------------------------------------------------------------------------
// The callers' side: never blocks on I/O.

void RedisStore::Impl::Attach(StoreSink* sink, const BreakerOptions& defaults) {
  {
    internal::MutexLock lock(&sinks_mu_);
    sinks_.push_back(std::make_shared<const SinkSlot>(sink));
  }
  flusher_.AdoptPolicy(defaults);  // and the new set learns what is open now
}

void RedisStore::Impl::Detach(StoreSink* sink) {
  internal::MutexLock lock(&sinks_mu_);
  auto it = std::find_if(sinks_.begin(), sinks_.end(),
                         [sink](const SlotRef& slot) { return slot->sink == sink; });
  if (it == sinks_.end()) return;
  // Held while waiting, so the slot's address cannot be another's meanwhile.
  SlotRef slot = std::move(*it);
  sinks_.erase(it);
  // Called from inside the sink's own delivery: waiting would wait for this
  // very thread. The delivery does not touch the sink once its call returns.
  if (calling_ == slot.get() && calling_thread_ == std::this_thread::get_id()) return;
  ++detach_waiters_;
  while (calling_ == slot.get()) sinks_cv_.wait(sinks_mu_);
  --detach_waiters_;
}

void RedisStore::Impl::RecordTransition(std::string_view peer, State from,
                                        State to, absl::Duration open_for) {
  std::optional<redis::ReportKind> kind = redis::ReportKindFor(from, to);
  if (!kind) return;
  redis::Op op;
  op.kind = *kind;
  op.peer = std::string(peer);
  // An open period without end is reported as a day, the longest one the
  // flush script decides by itself.
  op.n = open_for >= absl::InfiniteDuration()
             ? 86400000
             : std::max<std::int64_t>(0, absl::ToInt64Milliseconds(open_for));
  {
    internal::MutexLock lock(&known_mu_);
    op.known_inc = inc_;
    auto it = known_.find(absl::string_view(peer.data(), peer.size()));
    if (it != known_.end()) op.known_epoch = static_cast<std::int64_t>(it->second.epoch);
  }
  flusher_.AddReport(std::move(op));
}

// ---------------------------------------------------------------------------
// Deliveries (flusher and subscriber threads).

redis::Beliefs RedisStore::Impl::Believed(std::size_t max) {
  redis::Beliefs beliefs;
  internal::MutexLock lock(&known_mu_);
  beliefs.incarnation = inc_;
  for (const auto& [peer, known] : known_) {
    if (beliefs.not_closed.size() >= max) break;
    if (known.state != redis::FleetState::kClosed) beliefs.not_closed.push_back(peer);
  }
  return beliefs;
}

void RedisStore::Impl::Deliver(const redis::Updates& batch, redis::Reapply reapply) {
  internal::MutexLock deliver(&deliver_mu_);
  // Sets attached from here on learn these decisions from the resync their
  // attach() asks for.
  std::vector<SlotRef> slots;
  {
    internal::MutexLock lock(&sinks_mu_);
    slots = sinks_;
  }
  for (const redis::Update& u : batch.updates) {
    {
      internal::MutexLock lock(&known_mu_);
      if (!LearnLocked(batch.incarnation, u, reapply.covers(u))) continue;
    }
    State state;
    absl::Duration remaining;
    if (!ToLocal(u, &state, &remaining)) continue;
    for (const SlotRef& slot : slots) CallSink(slot.get(), u.peer, state, remaining, u.epoch);
    redis::Counters::Add(counters_.applied);
  }
}

bool RedisStore::Impl::LearnLocked(const std::string& inc, const redis::Update& u,
                                   bool reapply) {
  if (inc != inc_) {
    // A new incarnation: Redis lost its data (or this is the first
    // contact). Epochs restart; local opens stay until their deadlines.
    inc_ = inc;
    known_.clear();
  }
  auto it = known_.find(absl::string_view(u.peer.data(), u.peer.size()));
  if (it != known_.end()) {
    if (u.epoch < it->second.epoch) return false;
    if (u.epoch == it->second.epoch && !reapply) return false;
    it->second = Known{u.epoch, u.state};
    return true;
  }
  if (known_.size() >= kMaxKnownPeers) {
    absl::erase_if(known_, [](const auto& kv) {
      return kv.second.state == redis::FleetState::kClosed;
    });
  }
  known_.emplace(u.peer, Known{u.epoch, u.state});
  return true;
}

bool RedisStore::Impl::ToLocal(const redis::Update& u, State* state,
                               absl::Duration* remaining) const {
  std::int64_t ms = u.remaining_ms;
  *state = State::kClosed;
  if (u.state != redis::FleetState::kClosed) {
    if (u.prober == instance_) {
      // Our own lease: we are the one probing.
      if (u.state == redis::FleetState::kHalfOpen) return false;
    } else {
      // Not the prober: wait up to probe_lease (plus a per-process jitter,
      // so waiting processes do not all ask at once) for its verdict.
      // Deterministic per (process, peer, epoch), so a re-applied decision
      // keeps the same deadline.
      std::int64_t lease = absl::ToInt64Milliseconds(options_.probe_lease);
      std::uint64_t h = internal::Mix(std::hash<std::string>()(instance_) ^
                                   internal::Mix(std::hash<std::string>()(u.hex) ^ u.epoch));
      ms += lease + static_cast<std::int64_t>(
                        h % static_cast<std::uint64_t>(std::max<std::int64_t>(1, lease)));
    }
    *state = State::kOpen;
  }
  *remaining = absl::Milliseconds(ms);
  return true;
}

bool RedisStore::Impl::AttachedLocked(const SinkSlot* slot) const {
  return std::any_of(sinks_.begin(), sinks_.end(),
                     [slot](const SlotRef& s) { return s.get() == slot; });
}

void RedisStore::Impl::CallSink(const SinkSlot* slot, std::string_view peer,
                                State state, absl::Duration remaining,
                                std::uint64_t epoch) {
  {
    internal::MutexLock lock(&sinks_mu_);
    if (!AttachedLocked(slot)) return;
    calling_ = slot;
    calling_thread_ = std::this_thread::get_id();
  }
  try {
    slot->sink->apply_remote(peer, state, remaining, epoch);
  } catch (...) {
  }
  bool wake;
  {
    internal::MutexLock lock(&sinks_mu_);
    calling_ = nullptr;
    calling_thread_ = std::thread::id();
    wake = detach_waiters_ > 0;
  }
  if (wake) sinks_cv_.notify_all();
}

// ---------------------------------------------------------------------------
// RedisStore

namespace {
RedisOptions Validated(RedisOptions o) {
  if (absl::Status s = o.validate(); !s.ok()) {
    throw std::invalid_argument(std::string(s.message()));
  }
  return o;
}
}  // namespace

RedisStore::RedisStore(RedisOptions options)
    : impl_(std::make_unique<Impl>(Validated(std::move(options)))) {}

RedisStore::~RedisStore() = default;

void RedisStore::attach(StoreSink* sink, const BreakerOptions& defaults) {
  impl_->Attach(sink, defaults);
}

void RedisStore::detach(StoreSink* sink) { impl_->Detach(sink); }

void RedisStore::record_failure(std::string_view peer, absl::Time /*at*/) {
  impl_->RecordFailure(peer);
}

void RedisStore::record_transition(std::string_view peer, State from, State to,
                                   absl::Duration open_for) {
  impl_->RecordTransition(peer, from, to, open_for);
}

bool RedisStore::healthy() const { return impl_->Healthy(); }

RedisStats RedisStore::stats() const { return impl_->Stats(); }

const std::string& RedisStore::instance_id() const noexcept {
  return impl_->instance();
}

}  // namespace circuit
