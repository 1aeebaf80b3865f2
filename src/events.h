// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Listener dispatch and spdlog logging.
//
// Always called outside every lock. The listener list is an immutable
// vector replaced on `add_listener` and read lock-free; with no listener
// registered every dispatch is one load and a branch. Exceptions thrown by
// listeners are caught and logged (the first, then every 1000th, so a
// broken listener cannot flood the log) and change nothing.
//
// Ownership: the lists hold plain pointers, and `Events` itself owns the
// listeners (`owned_`), releasing them in its destructor. A replaced list
// goes to the epoch domain (epoch.h), which frees it later on whichever
// thread reclaims; were the list to own its listeners, the last reference
// to one could be dropped there, after the set is gone and after the user
// freed what the listener refers to. This way every listener is released
// by the time the set's destructor returns, on the thread that runs it.

#ifndef CIRCUIT_SRC_EVENTS_H_
#define CIRCUIT_SRC_EVENTS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "breaker.h"
#include "circuit/listener.h"
#include "sync.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace circuit::internal {

class Events {
 public:
  // `log_interval`: a peer's trip is logged only when its last logged trip
  // is at least that old (0: every trip); see Coalesce.
  Events(std::shared_ptr<spdlog::logger> logger, absl::Duration log_interval);
  ~Events();
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

  void AddListener(std::shared_ptr<Listener> listener);

  bool has_listeners() const noexcept {
    return list_.load(std::memory_order_acquire) != nullptr;
  }

  // Each REQUIRES: the caller is pinned (the list is epoch-reclaimed).
  void BeforeCall(std::string_view peer) noexcept;
  void Success(std::string_view peer) noexcept;
  void Failure(std::string_view peer) noexcept;
  void Rejected(std::string_view peer) noexcept;
  // Logs `t` (unless coalesced: a flapping peer) and tells the listeners.
  void StateChange(std::string_view peer, const Transition& t) noexcept;
  // Debug line for an admitted probe.
  void Probe(std::string_view peer) noexcept;
  // Outlier detection judged `peer` an outlier for `reason`: logged at warn
  // and told to the listeners (the reason prefixed "would eject: " when
  // not `enforced`).
  void Ejected(std::string_view peer, std::string_view reason,
               bool enforced) noexcept;
  // A trip of `peer` at `now_ns` was suppressed with `open` of at most
  // `limit` peers open: told to the listeners, and logged at warn at most
  // once per log interval (the line counts the ones not logged).
  void TripSuppressed(std::string_view peer, std::int64_t now_ns,
                      std::int64_t open, std::int64_t limit,
                      double fraction) noexcept;

  // Logs a problem the library worked around (bad options_for result,
  // store errors), at warn.
  void Warn(std::string_view what) noexcept;

  spdlog::logger* logger() const noexcept { return logger_.get(); }

 private:
  // Whether to log a transition, and how many of the peer's transitions
  // were not logged since its last logged one.
  struct LogDecision {
    bool log = true;
    std::uint32_t suppressed = 0;
  };
  // One peer's coalescing state. A peer without one behaves as if it had
  // the default state, so states that say nothing more are dropped.
  struct Flap {
    std::int64_t last_logged_trip_ns = 0;
    std::uint32_t suppressed = 0;
    bool cycle_logged = true;
    bool logged_a_trip = false;
  };

  // Coalesces the log lines of a flapping peer: a trip is logged when the
  // peer's last logged trip is at least log_interval old; the half-open and
  // closed lines of a logged trip follow it, and a recovery whose trip was
  // not logged is still logged once the interval has passed, so the end of
  // a flapping spell shows up. Manual transitions are always logged.
  LogDecision Coalesce(std::string_view peer, const Transition& t) noexcept;
  // Drops the states equivalent to none as of `now_ns`.
  void PruneFlapsLocked(std::int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(flap_mu_);

  // Points into owned_: a retired list never owns a listener.
  struct List {
    std::vector<Listener*> items;
  };

  static void DeleteList(void* p) noexcept;

  template <class F>
  void Dispatch(const char* event, std::string_view peer, F&& f) noexcept;
  void ListenerThrew(const char* event, std::string_view peer,
                     const char* what) noexcept;

  std::atomic<const List*> list_{nullptr};
  Mutex mu_;  // serialises AddListener
  // Every listener ever added; only grows while the set lives, so every
  // list (current or retired) points at live listeners.
  std::vector<std::shared_ptr<Listener>> owned_ ABSL_GUARDED_BY(mu_);
  const std::shared_ptr<spdlog::logger> logger_;  // null: silent
  const std::int64_t log_interval_ns_;
  Mutex flap_mu_;  // a leaf: held only inside Coalesce
  absl::flat_hash_map<std::string, Flap> flaps_ ABSL_GUARDED_BY(flap_mu_);
  std::size_t prune_at_ ABSL_GUARDED_BY(flap_mu_) = 64;
  std::atomic<std::uint64_t> listener_errors_{0};
  // Rate limit of the suppressed-trip lines: when the last was logged
  // (INT64_MIN: never), and how many were not logged since.
  std::atomic<std::int64_t> last_suppressed_log_ns_{INT64_MIN};
  std::atomic<std::uint64_t> suppressed_unlogged_{0};
};

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_EVENTS_H_
