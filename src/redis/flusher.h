// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Flusher: the batching side of the Redis store.
//
// Callers (the sets' slow paths, through the store) add failures and
// transition reports to the pending batch under `mu_` and wake the flusher
// thread; they never do I/O. The flusher thread owns the command
// connection: it (re)connects with backoff, loads the scripts, sends the
// batch as flush script calls, runs snapshots (after every (re)connect and
// resubscribe, when a set attaches, and every `resync_interval`) and hands
// what Redis answers to the FleetView.
//
// Locks: `mu_` is a leaf. It is never held while calling out (I/O, the
// FleetView, the logger), so callers may hold any lock of the store's
// while they add to the batch.
//
// Thread safety: every public member may be called from any thread;
// Start() once, and Join() from one thread only.

#ifndef CIRCUIT_SRC_REDIS_FLUSHER_H_
#define CIRCUIT_SRC_REDIS_FLUSHER_H_

#include <condition_variable>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "circuit/options.h"
#include "circuit/redis_store.h"
#include "redis/connection.h"
#include "redis/fleet_view.h"
#include "redis/health.h"
#include "redis/protocol.h"
#include "sync.h"

namespace circuit::internal::redis {

class Flusher {
 public:
  // Every pointer and reference must outlive the flusher.
  Flusher(const RedisOptions& options, const Keys& keys, const std::string& instance,
          FleetView* fleet, Counters* counters, Health* health, Backoff* backoff);

  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  // Stops and joins the thread if it runs.
  ~Flusher();

  // Starts the thread. Throws what std::thread throws.
  void Start();

  // Asks the thread to stop; it does after the I/O in flight.
  void RequestStop() ABSL_LOCKS_EXCLUDED(mu_);

  // Waits for the thread to end (after RequestStop()).
  void Join();

  // Flusher::AdoptPolicy()
  //
  // The fleet rule's policy: the first call's `defaults` stay. Also asks
  // for a snapshot, so the newly attached set learns what is open now.
  // Nothing is flushed before the first call.
  void AdoptPolicy(const BreakerOptions& defaults) ABSL_LOCKS_EXCLUDED(mu_);

  // Asks for a snapshot (messages may have been missed).
  void RequestResync() ABSL_LOCKS_EXCLUDED(mu_);

  // A counted failure of `peer`; flushed soon (at most `max_pending_peers`
  // peers wait, further ones are dropped).
  void AddFailure(std::string_view peer) ABSL_LOCKS_EXCLUDED(mu_);

  // A local transition; flushed soon (at most kMaxPendingReports wait).
  void AddReport(Op op) ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr std::size_t kMaxPendingReports = 4096;

  // Flusher::lock()
  //
  // The batch's lock, to name in lock-order annotations only
  // (`ABSL_ACQUIRED_BEFORE(flusher_.lock())`); nothing outside takes it.
  Mutex& lock() ABSL_LOCK_RETURNED(mu_) { return mu_; }

 private:
  struct Report {
    Op op;
    SteadyTime queued;
  };
  struct Batch {
    std::vector<std::pair<std::string, int>> fails;
    std::vector<Report> reports;
  };

  void Main() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits on cv_ until `deadline` or stop_; with `for_work`, also until a
  // resync or an urgent report is wanted.
  void SleepLocked(SteadyTime deadline, bool for_work) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets what waited too long while Redis was unreachable.
  void DropStaleLocked(SteadyTime now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The command connection (flusher thread only).
  bool Connect() ABSL_LOCKS_EXCLUDED(mu_);
  bool LoadScripts();
  // One command; null (the connection lost) on any I/O or protocol error.
  Reply Command(const std::vector<std::string>& args);
  // Closes the connection because of `why` and accounts for it.
  void Drop(std::string_view why);
  // Accounts for the connection lost (already closed).
  void Lost(std::string_view why);

  void Flush(Batch batch) ABSL_LOCKS_EXCLUDED(mu_);
  bool FlushChunk(FlushCall& call) ABSL_LOCKS_EXCLUDED(mu_);
  void Resync() ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const RedisOptions& options_;
  const Keys& keys_;
  const std::string& instance_;
  FleetView* const fleet_;
  Counters* const counters_;
  Health* const health_;
  Backoff* const backoff_;

  // The pending batch and the thread's wake-ups (cv_).
  Mutex mu_;
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
  Connection conn_;
  std::string flush_sha_, snapshot_sha_;

  std::thread thread_;
};

}  // namespace circuit::internal::redis

#endif  // CIRCUIT_SRC_REDIS_FLUSHER_H_
