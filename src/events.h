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
#include <memory>
#include <string_view>
#include <vector>

#include "breaker.h"
#include "circuit/listener.h"
#include "sync.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace circuit::internal {

class Events {
 public:
  explicit Events(std::shared_ptr<spdlog::logger> logger);
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
  // Logs `t` (unless coalesced) and tells the listeners.
  void StateChange(std::string_view peer, const Transition& t) noexcept;
  // Debug line for an admitted probe.
  void Probe(std::string_view peer) noexcept;

  // Logs a problem the library worked around (bad options_for result,
  // store errors), at warn.
  void Warn(std::string_view what) noexcept;

  spdlog::logger* logger() const noexcept { return logger_.get(); }

 private:
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
  std::atomic<std::uint64_t> listener_errors_{0};
};

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_EVENTS_H_
