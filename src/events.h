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
  struct List {
    std::vector<std::shared_ptr<Listener>> items;
  };

  static void DeleteList(void* p) noexcept;

  template <class F>
  void Dispatch(const char* event, std::string_view peer, F&& f) noexcept;
  void ListenerThrew(const char* event, std::string_view peer,
                     const char* what) noexcept;

  std::atomic<const List*> list_{nullptr};
  Mutex mu_;  // serialises AddListener
  const std::shared_ptr<spdlog::logger> logger_;  // null: silent
  std::atomic<std::uint64_t> listener_errors_{0};
};

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_EVENTS_H_
