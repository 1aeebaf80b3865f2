// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// RedisStore: batching on the callers' side, two background threads on the
// Redis side.
//
// Callers (the sets' slow paths) only append to `pending_` under `mu_` and
// poke the flusher; they never do I/O. The flusher thread owns the command
// connection: it (re)connects with backoff, loads the scripts, sends
// batches, runs snapshots and applies their replies. The subscriber thread
// owns the pub/sub connection, polls it together with an eventfd (for
// stopping), keeps it alive with PING, and applies messages.
//
// hiredis 0.14 is used as the RESP encoder/parser on blocking contexts with
// SO_RCVTIMEO/SO_SNDTIMEO (the command timeout); a context that failed for
// any reason is thrown away, because late replies would line up with the
// wrong requests. The subscriber reads only after poll() says the socket is
// readable. SIGPIPE is blocked in both threads (hiredis 0.14 writes with
// write()); the process-wide disposition is never changed.
//
// Locks. deliver_mu_ serialises deliveries (the flusher applies flush and
// snapshot replies, the subscriber applies messages), so each set sees a
// peer's decisions in epoch order; it is held while sinks are called, and
// only Deliver() takes it. The attached sinks live in reference-counted
// slots under sinks_mu_, which is never held while a sink is called: a
// delivery marks a slot busy, calls its sink unlocked, and clears the mark.
// detach() removes the slot and waits only for that sink's own call in
// flight (never for another set's listener, never on deliver_mu_); from
// inside that very call it returns at once. So apply_remote() runs with
// deliver_mu_ alone held, and a listener it reaches may call back into the
// set and the store, including attaching and detaching sets.
//
// Lock order: deliver_mu_, then known_mu_ or sinks_mu_ (never both); mu_ is
// never held with any other.

#include "circuit/redis_store.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "redis/connection.h"
#include "redis/protocol.h"
#include "redis/scripts.h"
#include "spdlog/spdlog.h"
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

using redis::Backoff;
using redis::Connection;
using redis::Mix;
using redis::Readiness;
using redis::Reply;
using redis::SteadyClock;
using redis::SteadyTime;
using redis::ToChrono;

std::string_view StdView(absl::string_view s) { return {s.data(), s.size()}; }

// What the set told the store, waiting to be flushed.
struct Report {
  redis::Op op;
  SteadyTime queued;
};

}  // namespace

// ---------------------------------------------------------------------------

class RedisStore::Impl {
 public:
  explicit Impl(RedisOptions options);
  ~Impl();

  void Attach(StoreSink* sink, const BreakerOptions& defaults);
  void Detach(StoreSink* sink);
  void RecordFailure(std::string_view peer);
  void RecordTransition(std::string_view peer, State from, State to,
                        absl::Duration open_for);
  bool Healthy() const {
    return cmd_ok_.load(std::memory_order_acquire) &&
           sub_ok_.load(std::memory_order_acquire);
  }
  RedisStats Stats() const;
  const std::string& instance() const { return inst_; }

 private:
  struct Known {
    std::uint64_t epoch = 0;
    redis::FleetState state = redis::FleetState::kClosed;
  };
  struct Batch {
    std::vector<std::pair<std::string, int>> fails;
    std::vector<Report> reports;
  };
  // One attached sink. Its fields are protected by sinks_mu_. The attached
  // list holds a reference, and so does a delivery while it runs, so a slot
  // detached during a delivery stays valid until that delivery is over.
  struct SinkSlot {
    explicit SinkSlot(StoreSink* s) : sink(s) {}
    StoreSink* const sink;
    bool attached = true;  // false once detach() removed it: never called again
    bool busy = false;     // a delivery is calling `sink` now
    int waiters = 0;       // detach() calls waiting for `busy` to clear
  };

  // Flusher thread.
  void FlusherMain() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits on cv_ until `deadline` or stop_; with `for_work`, also until a
  // resync or an urgent report is wanted.
  void SleepLocked(SteadyTime deadline, bool for_work)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ConnectCommand();
  bool LoadScripts();
  void CloseCommand(std::string_view why);
  // Accounts for the command connection lost (already closed).
  void LinkLost(std::string_view why);
  // Sends one command on the command connection; null (connection closed)
  // on any I/O or protocol error.
  Reply Command(const std::vector<std::string>& args);
  void Flush(Batch batch) ABSL_LOCKS_EXCLUDED(mu_);
  bool FlushChunk(redis::FlushCall& call);
  void Resync() ABSL_LOCKS_EXCLUDED(known_mu_);
  void DropStaleLocked(SteadyTime now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Subscriber thread.
  void SubscriberMain();
  absl::Status Subscribe(Connection* conn);
  // Waits for `fd` (none if < 0) to be readable until `deadline`.
  Readiness Wait(int fd, SteadyTime deadline);
  bool SleepOrStop(std::chrono::nanoseconds d);
  void OnMessage(std::string_view payload);

  // Both.
  // Applies decisions in order: `force` also applies one whose epoch equals
  // the known one (snapshots; refused lease requests).
  void Deliver(const redis::Updates& batch,
               const absl::flat_hash_set<std::string>* force, bool all_force)
      ABSL_LOCKS_EXCLUDED(deliver_mu_, known_mu_, sinks_mu_);
  // Calls `slot`'s sink unless it was detached; marks it busy meanwhile.
  void CallSink(SinkSlot& slot, std::string_view peer, State state,
                absl::Duration remaining, std::uint64_t epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(deliver_mu_) ABSL_LOCKS_EXCLUDED(sinks_mu_);
  void SetCmdHealthy(bool ok);
  void NoteError() { errors_.fetch_add(1, std::memory_order_relaxed); }
  void LogWarn(const std::string& msg);
  void LogInfo(const std::string& msg);

  // Constant after construction.
  const RedisOptions opts_;
  const std::string inst_;
  const redis::Keys keys_;
  const int wake_fd_;

  // What the callers queue for the flusher, and its wake-ups (cv_).
  internal::Mutex mu_;
  std::condition_variable_any cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool urgent_ ABSL_GUARDED_BY(mu_) = false;
  bool resync_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool have_policy_ ABSL_GUARDED_BY(mu_) = false;
  BreakerOptions policy_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> fails_ ABSL_GUARDED_BY(mu_);
  SteadyTime fails_since_ ABSL_GUARDED_BY(mu_){};
  std::vector<Report> reports_ ABSL_GUARDED_BY(mu_);
  SteadyTime last_flush_end_ ABSL_GUARDED_BY(mu_){};

  // Owned by the flusher thread.
  Connection cmd_;
  std::string flush_sha_, snapshot_sha_;

  // Serialises deliveries; held while sinks are called (file comment).
  internal::Mutex deliver_mu_ ABSL_ACQUIRED_BEFORE(known_mu_, sinks_mu_);

  // The latest epoch seen per peer, under Redis's incarnation inc_.
  mutable internal::Mutex known_mu_;
  std::string inc_ ABSL_GUARDED_BY(known_mu_);
  absl::flat_hash_map<std::string, Known> known_ ABSL_GUARDED_BY(known_mu_);

  // The attached sinks, in attach order; never held while a sink is called.
  // sinks_cv_ wakes a detach() waiting for a busy slot.
  internal::Mutex sinks_mu_;
  std::condition_variable_any sinks_cv_;
  std::vector<std::shared_ptr<SinkSlot>> sinks_ ABSL_GUARDED_BY(sinks_mu_);
  // The thread inside a sink call, if any (at most one: deliver_mu_).
  std::thread::id calling_thread_ ABSL_GUARDED_BY(sinks_mu_);

  // Has its own synchronization.
  std::atomic<bool> stopping_{false};
  Backoff backoff_;
  std::atomic<bool> cmd_ok_{false};
  std::atomic<bool> sub_ok_{false};
  std::atomic<bool> was_healthy_{false};
  std::atomic<std::uint64_t> commands_{0}, flushes_{0}, errors_{0},
      reconnects_{0}, messages_{0}, applied_{0}, dropped_{0}, resyncs_{0};

  std::thread flusher_;
  std::thread subscriber_;
};

namespace {

std::string NewInstanceId() {
  std::random_device rd;
  std::uint64_t a = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  a ^= static_cast<std::uint64_t>(getpid()) << 17;
  a ^= static_cast<std::uint64_t>(
      SteadyClock::now().time_since_epoch().count());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(Mix(a)));
  return buf;
}

}  // namespace

RedisStore::Impl::Impl(RedisOptions options)
    : opts_(std::move(options)),
      inst_(NewInstanceId()),
      keys_(opts_.key_prefix),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      backoff_(std::hash<std::string>()(inst_), opts_.backoff_base, opts_.backoff_max) {
  if (wake_fd_ < 0) throw std::runtime_error("RedisStore: eventfd failed");
  flusher_ = std::thread([this] { FlusherMain(); });
  try {
    subscriber_ = std::thread([this] { SubscriberMain(); });
  } catch (...) {
    {
      internal::MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.notify_all();
    flusher_.join();
    close(wake_fd_);
    throw;
  }
}

RedisStore::Impl::~Impl() {
  stopping_.store(true, std::memory_order_release);
  {
    internal::MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  std::uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
  flusher_.join();
  subscriber_.join();
  close(wake_fd_);
}

void RedisStore::Impl::LogWarn(const std::string& msg) {
  if (opts_.logger) {
    try {
      opts_.logger->warn("redis store {}:{} ({}): {}", opts_.host, opts_.port,
                         opts_.key_prefix, msg);
    } catch (...) {
    }
  }
}

void RedisStore::Impl::LogInfo(const std::string& msg) {
  if (opts_.logger) {
    try {
      opts_.logger->info("redis store {}:{} ({}): {}", opts_.host, opts_.port,
                         opts_.key_prefix, msg);
    } catch (...) {
    }
  }
}

RedisStats RedisStore::Impl::Stats() const {
  RedisStats s;
  s.commands = commands_.load(std::memory_order_relaxed);
  s.flushes = flushes_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.reconnects = reconnects_.load(std::memory_order_relaxed);
  s.messages = messages_.load(std::memory_order_relaxed);
  s.applied = applied_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.resyncs = resyncs_.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------------------
// The callers' side: never blocks on I/O.

void RedisStore::Impl::Attach(StoreSink* sink, const BreakerOptions& defaults) {
  auto slot = std::make_shared<SinkSlot>(sink);
  {
    internal::MutexLock lock(&sinks_mu_);
    sinks_.push_back(std::move(slot));
  }
  {
    internal::MutexLock lock(&mu_);
    if (!have_policy_) {
      policy_ = defaults;
      have_policy_ = true;
    }
    resync_wanted_ = true;  // the new set learns what is open now
  }
  cv_.notify_all();
}

void RedisStore::Impl::Detach(StoreSink* sink) {
  internal::MutexLock lock(&sinks_mu_);
  auto it = std::find_if(sinks_.begin(), sinks_.end(),
                         [sink](const auto& slot) { return slot->sink == sink; });
  if (it == sinks_.end()) return;
  std::shared_ptr<SinkSlot> slot = std::move(*it);
  sinks_.erase(it);
  slot->attached = false;
  // Called from inside the sink's own delivery: waiting would wait for this
  // very thread. The delivery does not touch the sink once its call returns.
  if (slot->busy && calling_thread_ == std::this_thread::get_id()) return;
  ++slot->waiters;
  while (slot->busy) sinks_cv_.wait(sinks_mu_);
  --slot->waiters;
}

void RedisStore::Impl::RecordFailure(std::string_view peer) {
  bool wake = false;
  {
    internal::MutexLock lock(&mu_);
    auto it = fails_.find(absl::string_view(peer.data(), peer.size()));
    if (it != fails_.end()) {
      if (it->second < std::numeric_limits<int>::max()) ++it->second;
    } else if (fails_.size() >= static_cast<std::size_t>(opts_.max_pending_peers)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    } else {
      if (fails_.empty()) fails_since_ = SteadyClock::now();
      fails_.emplace(std::string(peer), 1);
    }
    if (!urgent_) {
      urgent_ = true;
      wake = true;
    }
  }
  if (wake) cv_.notify_all();
}

void RedisStore::Impl::RecordTransition(std::string_view peer, State from,
                                        State to, absl::Duration open_for) {
  std::optional<redis::ReportKind> kind = redis::ReportKindFor(from, to);
  if (!kind) return;
  Report r;
  r.op.kind = *kind;
  r.op.peer = std::string(peer);
  r.op.n = open_for >= absl::InfiniteDuration()
               ? 86400000
               : std::max<std::int64_t>(0, absl::ToInt64Milliseconds(open_for));
  {
    internal::MutexLock lock(&known_mu_);
    r.op.known_inc = inc_;
    auto it = known_.find(absl::string_view(peer.data(), peer.size()));
    if (it != known_.end()) {
      r.op.known_epoch = static_cast<std::int64_t>(it->second.epoch);
    }
  }
  r.queued = SteadyClock::now();
  bool wake = false;
  {
    internal::MutexLock lock(&mu_);
    if (reports_.size() >= 4096) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    reports_.push_back(std::move(r));
    if (!urgent_) {
      urgent_ = true;
      wake = true;
    }
  }
  if (wake) cv_.notify_all();
}

// ---------------------------------------------------------------------------
// The flusher thread.

void RedisStore::Impl::SetCmdHealthy(bool ok) {
  cmd_ok_.store(ok, std::memory_order_release);
}

void RedisStore::Impl::CloseCommand(std::string_view why) {
  if (!cmd_.is_open()) return;
  cmd_.Close();
  LinkLost(why);
}

void RedisStore::Impl::LinkLost(std::string_view why) {
  SetCmdHealthy(false);
  NoteError();
  if (was_healthy_.exchange(false)) {
    LogWarn(absl::StrCat("backend down (", absl::string_view(why.data(), why.size()),
                         "); sets run on local state"));
  }
}

Reply RedisStore::Impl::Command(const std::vector<std::string>& args) {
  if (!cmd_.is_open()) return nullptr;
  absl::StatusOr<Reply> r = cmd_.Command(args);
  if (!r.ok()) {
    LinkLost(StdView(r.status().message()));
    return nullptr;
  }
  return std::move(*r);
}

bool RedisStore::Impl::ConnectCommand() {
  // A connect that fails is not counted as an error on this link; a link
  // that fails after connecting is.
  absl::StatusOr<Connection> c = Connection::Open(opts_, &commands_);
  if (!c.ok()) return false;
  cmd_ = std::move(*c);
  if (absl::Status s = cmd_.Authenticate(opts_.password); !s.ok()) {
    LinkLost(StdView(s.message()));
    return false;
  }
  if (!LoadScripts()) return false;
  reconnects_.fetch_add(1, std::memory_order_relaxed);
  SetCmdHealthy(true);
  return true;
}

bool RedisStore::Impl::LoadScripts() {
  for (auto [src, sha] : {std::pair<const char*, std::string*>{
                              internal::kFlushScript, &flush_sha_},
                          {internal::kSnapshotScript, &snapshot_sha_}}) {
    Reply r = Command({"SCRIPT", "LOAD", src});
    if (r == nullptr) return false;
    if (!redis::IsScriptSha(r.get())) {
      CloseCommand(r->type == REDIS_REPLY_ERROR ? redis::ErrorText(r.get())
                                                : "unexpected SCRIPT LOAD reply");
      return false;
    }
    *sha = std::string(r->str, r->len);
  }
  return true;
}

void RedisStore::Impl::DropStaleLocked(SteadyTime now) {
  // While Redis is unreachable nothing is flushed; what is older than the
  // fleet window (or the open period it reports) no longer matters.
  auto window = have_policy_ ? ToChrono(policy_.time_unit)
                             : std::chrono::nanoseconds(std::chrono::seconds(60));
  if (!fails_.empty() && now - fails_since_ > window) {
    dropped_.fetch_add(fails_.size(), std::memory_order_relaxed);
    fails_.clear();
  }
  auto stale = [&](const Report& r) {
    auto age = now - r.queued;
    if (r.op.kind == redis::ReportKind::kTrip || r.op.kind == redis::ReportKind::kReopen) {
      return age > std::chrono::milliseconds(r.op.n);
    }
    return age > window;
  };
  auto it = std::remove_if(reports_.begin(), reports_.end(), stale);
  dropped_.fetch_add(static_cast<std::uint64_t>(reports_.end() - it),
                     std::memory_order_relaxed);
  reports_.erase(it, reports_.end());
}

void RedisStore::Impl::SleepLocked(SteadyTime deadline, bool for_work) {
  while (!stop_ && !(for_work && (resync_wanted_ || urgent_))) {
    if (cv_.wait_until(mu_, deadline) == std::cv_status::timeout) return;
  }
}

void RedisStore::Impl::FlusherMain() {
  redis::BlockSigpipe();
  int attempt = 0;
  SteadyTime next_resync = SteadyClock::now();
  mu_.lock();
  while (!stop_) {
    if (!cmd_.is_open()) {
      mu_.unlock();
      bool ok = ConnectCommand();
      if (!ok) cmd_.Close();
      mu_.lock();
      if (stop_) break;
      if (!ok) {
        DropStaleLocked(SteadyClock::now());
        SleepLocked(SteadyClock::now() + backoff_.Delay(attempt), false);
        ++attempt;
        continue;
      }
      attempt = 0;
      resync_wanted_ = true;
      if (sub_ok_.load() && !was_healthy_.exchange(true)) {
        LogInfo("backend reachable; fleet state shared again");
      }
    }
    // Wait for work: an urgent report (no sooner than expedite_delay after
    // the last flush, which bounds the flush rate under a failure storm), a
    // resync, or the periodic flush.
    auto gap = ToChrono(opts_.expedite_delay);
    auto periodic = last_flush_end_ + ToChrono(opts_.flush_interval);
    SleepLocked(std::min(periodic, next_resync), true);
    if (stop_) break;
    if (urgent_ && !resync_wanted_) {
      auto earliest = last_flush_end_ + gap;
      if (SteadyClock::now() < earliest) {
        SleepLocked(earliest, false);
        if (stop_) break;
      }
    }
    SteadyTime now = SteadyClock::now();
    bool resync = resync_wanted_ || now >= next_resync;
    resync_wanted_ = false;
    urgent_ = false;
    Batch batch;
    if (have_policy_) {
      batch.fails.reserve(fails_.size());
      for (auto& [peer, n] : fails_) batch.fails.emplace_back(peer, n);
      fails_.clear();
      batch.reports.swap(reports_);
    }
    mu_.unlock();
    if (resync) {
      Resync();
      next_resync = SteadyClock::now() + ToChrono(opts_.resync_interval);
    }
    if (!batch.fails.empty() || !batch.reports.empty()) Flush(std::move(batch));
    mu_.lock();
    last_flush_end_ = SteadyClock::now();
    // Reports taken for a batch that failed are gone (counts may be lost,
    // never doubled); reports that arrived meanwhile wait for the next turn.
  }
  mu_.unlock();
  cmd_.Close();
  SetCmdHealthy(false);
}

void RedisStore::Impl::Flush(Batch batch) {
  BreakerOptions p;
  {
    internal::MutexLock lock(&mu_);
    p = policy_;
  }
  redis::FlushCall call(flush_sha_, keys_, inst_, p, opts_);
  auto add = [&](const redis::Op& op) -> bool {
    call.Add(op);
    if (call.ops() < opts_.batch_max_peers) return true;
    bool ok = FlushChunk(call);
    call.Clear();
    return ok;
  };
  // Failures first: a trip they cause is decided before the reports that
  // follow it (a local trip then finds the fleet already open).
  for (auto& [peer, n] : batch.fails) {
    if (!add(redis::Op{redis::ReportKind::kFailures, peer, n, "", -1})) return;
  }
  for (const Report& r : batch.reports) {
    if (!add(r.op)) return;
  }
  if (call.ops() > 0) FlushChunk(call);
}

bool RedisStore::Impl::FlushChunk(redis::FlushCall& call) {
  Reply r = Command(call.args());
  if (r == nullptr) return false;
  if (redis::IsNoScript(r.get())) {
    // Script cache lost (restart, failover, SCRIPT FLUSH): the script did
    // not run, so reloading and retrying once cannot double-count.
    if (!LoadScripts()) return false;
    call.args()[redis::kShaArg] = flush_sha_;
    r = Command(call.args());
    if (r == nullptr) return false;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    // OOM, READONLY, BUSY, ...: the server is there but cannot take it.
    NoteError();
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  absl::StatusOr<redis::Updates> updates = redis::ParseFlushReply(r.get());
  if (!updates.ok()) {
    CloseCommand(StdView(updates.status().message()));
    return false;
  }
  flushes_.fetch_add(1, std::memory_order_relaxed);
  Deliver(*updates, &call.lease_requests(), false);
  return true;
}

void RedisStore::Impl::Resync() {
  if (!cmd_.is_open()) return;
  std::string known_inc;
  std::vector<std::string> believed;
  {
    internal::MutexLock lock(&known_mu_);
    known_inc = inc_;
    for (const auto& [peer, k] : known_) {
      if (believed.size() >= redis::kMaxBelievedPeers) break;
      if (k.state != redis::FleetState::kClosed) believed.push_back(peer);
    }
  }
  std::vector<std::string> args =
      redis::SnapshotCall(snapshot_sha_, keys_, known_inc, believed);
  Reply r = Command(args);
  if (r == nullptr) return;
  if (redis::IsNoScript(r.get())) {
    if (!LoadScripts()) return;
    args[redis::kShaArg] = snapshot_sha_;
    r = Command(args);
    if (r == nullptr) return;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    NoteError();
    return;
  }
  absl::StatusOr<redis::Updates> updates = redis::ParseSnapshotReply(r.get());
  if (!updates.ok()) {
    CloseCommand(StdView(updates.status().message()));
    return;
  }
  resyncs_.fetch_add(1, std::memory_order_relaxed);
  if (updates->incarnation.empty()) return;  // Redis holds no state (yet)
  Deliver(*updates, nullptr, true);
}

void RedisStore::Impl::Deliver(const redis::Updates& batch,
                               const absl::flat_hash_set<std::string>* force,
                               bool all_force) {
  internal::MutexLock deliver(&deliver_mu_);
  // Sets attached from here on learn these decisions from the resync their
  // attach() asks for.
  std::vector<std::shared_ptr<SinkSlot>> slots;
  {
    internal::MutexLock lock(&sinks_mu_);
    slots = sinks_;
  }
  const std::string& inc = batch.incarnation;
  for (const redis::Update& u : batch.updates) {
    {
      internal::MutexLock lock(&known_mu_);
      if (inc != inc_) {
        // A new incarnation: Redis lost its data (or this is the first
        // contact). Epochs restart; local opens stay until their deadlines.
        inc_ = inc;
        known_.clear();
      }
      bool forced = all_force || (force != nullptr && force->contains(u.hex));
      auto it = known_.find(absl::string_view(u.peer.data(), u.peer.size()));
      if (it != known_.end()) {
        if (u.epoch < it->second.epoch) continue;
        if (u.epoch == it->second.epoch && !forced) continue;
        it->second = Known{u.epoch, u.state};
      } else {
        if (known_.size() >= 1u << 20) {
          // Bounded: forget closed peers first.
          absl::erase_if(known_, [](const auto& kv) {
            return kv.second.state == redis::FleetState::kClosed;
          });
        }
        known_.emplace(u.peer, Known{u.epoch, u.state});
      }
    }
    State state = State::kClosed;
    std::int64_t ms = u.remaining_ms;
    if (u.state != redis::FleetState::kClosed) {
      if (u.prober == inst_) {
        // Our own lease: we are the one probing.
        if (u.state == redis::FleetState::kHalfOpen) continue;
      } else {
        // Not the prober: wait up to probe_lease (plus a per-process
        // jitter, so waiting processes do not all ask at once) for its
        // verdict. Deterministic per (process, peer, epoch), so a re-applied
        // decision keeps the same deadline.
        std::int64_t lease = absl::ToInt64Milliseconds(opts_.probe_lease);
        std::uint64_t h = Mix(std::hash<std::string>()(inst_) ^
                              Mix(std::hash<std::string>()(u.hex) ^ u.epoch));
        ms += lease + static_cast<std::int64_t>(h % static_cast<std::uint64_t>(
                                                        std::max<std::int64_t>(1, lease)));
      }
      state = State::kOpen;
    }
    for (const std::shared_ptr<SinkSlot>& slot : slots) {
      CallSink(*slot, u.peer, state, absl::Milliseconds(ms), u.epoch);
    }
    applied_.fetch_add(1, std::memory_order_relaxed);
  }
}

void RedisStore::Impl::CallSink(SinkSlot& slot, std::string_view peer,
                                State state, absl::Duration remaining,
                                std::uint64_t epoch) {
  {
    internal::MutexLock lock(&sinks_mu_);
    if (!slot.attached) return;
    slot.busy = true;
    calling_thread_ = std::this_thread::get_id();
  }
  try {
    slot.sink->apply_remote(peer, state, remaining, epoch);
  } catch (...) {
  }
  bool wake;
  {
    internal::MutexLock lock(&sinks_mu_);
    slot.busy = false;
    calling_thread_ = std::thread::id();
    wake = slot.waiters > 0;
  }
  if (wake) sinks_cv_.notify_all();
}

// ---------------------------------------------------------------------------
// The subscriber thread.

bool RedisStore::Impl::SleepOrStop(std::chrono::nanoseconds d) {
  return Wait(-1, SteadyClock::now() + d) != Readiness::kStop;
}

Readiness RedisStore::Impl::Wait(int fd, SteadyTime deadline) {
  if (stopping_.load(std::memory_order_acquire)) return Readiness::kStop;
  return redis::WaitReadable(fd, wake_fd_, deadline);
}

absl::Status RedisStore::Impl::Subscribe(Connection* conn) {
  absl::StatusOr<Connection> c = Connection::Open(opts_, &commands_);
  if (!c.ok()) return c.status();
  *conn = std::move(*c);
  if (absl::Status s = conn->Authenticate(opts_.password); !s.ok()) return s;
  if (absl::Status s = conn->Send({"SUBSCRIBE", keys_.channel}); !s.ok()) return s;
  SteadyTime deadline = SteadyClock::now() + ToChrono(opts_.command_timeout);
  for (;;) {
    absl::StatusOr<Reply> r = conn->NextReply();
    if (!r.ok()) return r.status();
    if (*r == nullptr) {
      if (Wait(conn->fd(), deadline) != Readiness::kReadable) {
        return absl::DeadlineExceededError("no answer to SUBSCRIBE");
      }
      if (absl::Status s = conn->Receive(); !s.ok()) return s;
      continue;
    }
    if (redis::ClassifyPush(r->get()).kind != redis::PushKind::kSubscribed) {
      return absl::UnavailableError("SUBSCRIBE refused");
    }
    return absl::OkStatus();
  }
}

void RedisStore::Impl::SubscriberMain() {
  redis::BlockSigpipe();
  int attempt = 0;
  while (!stopping_.load(std::memory_order_acquire)) {
    Connection conn;
    if (!Subscribe(&conn).ok()) {
      conn.Close();
      NoteError();
      if (!SleepOrStop(backoff_.Delay(attempt))) break;
      ++attempt;
      continue;
    }
    attempt = 0;
    reconnects_.fetch_add(1, std::memory_order_relaxed);
    sub_ok_.store(true, std::memory_order_release);
    {
      // Messages may have been missed while unsubscribed: resync.
      internal::MutexLock lock(&mu_);
      resync_wanted_ = true;
    }
    cv_.notify_all();
    if (cmd_ok_.load() && !was_healthy_.exchange(true)) {
      LogInfo("backend reachable; fleet state shared again");
    }
    auto keepalive = ToChrono(opts_.keepalive_interval);
    auto timeout = ToChrono(opts_.command_timeout);
    SteadyTime last_ping = SteadyClock::now();
    bool ping_out = false;
    bool failed = false;
    while (!failed) {
      SteadyTime deadline = ping_out ? last_ping + timeout : last_ping + keepalive;
      Readiness w = Wait(conn.fd(), deadline);
      if (w == Readiness::kStop) break;
      if (w == Readiness::kError) {
        failed = true;
        break;
      }
      if (w == Readiness::kReadable) {
        if (!conn.Receive().ok()) {
          failed = true;
          break;
        }
        for (;;) {
          absl::StatusOr<Reply> r = conn.NextReply();
          if (!r.ok()) {
            failed = true;
            break;
          }
          if (*r == nullptr) break;
          redis::Push push = redis::ClassifyPush(r->get());
          if (push.kind == redis::PushKind::kMessage) {
            messages_.fetch_add(1, std::memory_order_relaxed);
            OnMessage(push.payload);
          } else if (push.kind == redis::PushKind::kPong) {
            ping_out = false;
          } else if (push.kind == redis::PushKind::kError) {
            failed = true;
            break;
          }
        }
        continue;
      }
      // Timed out waiting.
      if (ping_out) {
        failed = true;  // a hung server: connect works, replies do not
        break;
      }
      if (!conn.Send({"PING"}).ok()) {
        failed = true;
        break;
      }
      ping_out = true;
      last_ping = SteadyClock::now();
    }
    sub_ok_.store(false, std::memory_order_release);
    conn.Close();
    if (failed) {
      NoteError();
      if (was_healthy_.exchange(false)) {
        LogWarn("subscription lost; sets run on local state");
      }
      if (!SleepOrStop(backoff_.Delay(attempt))) break;
      ++attempt;
    }
  }
}

void RedisStore::Impl::OnMessage(std::string_view payload) {
  // A message that does not parse is ignored: the next snapshot repairs
  // what it would have said.
  absl::StatusOr<redis::Updates> updates = redis::ParseMessage(payload);
  if (updates.ok()) Deliver(*updates, nullptr, false);
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
