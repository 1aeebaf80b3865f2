// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Locks the library uses, annotated for clang's -Wthread-safety. They are
// built on std::atomic and std::mutex rather than absl::Mutex so that
// ThreadSanitizer sees every synchronisation (Debian's Abseil is not built
// with TSan instrumentation).

#ifndef CIRCUIT_SRC_SYNC_H_
#define CIRCUIT_SRC_SYNC_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>

#include "absl/base/thread_annotations.h"

namespace circuit::internal {

// SpinLock
//
// A 4-byte lock for one breaker's slow paths (failures, transitions). Spins
// briefly, then sleeps on the word (C++20 atomic wait, a futex on Linux).
// Held only for short bookkeeping, never across user code.
class ABSL_LOCKABLE SpinLock {
 public:
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    for (int spins = 0;; ++spins) {
      std::uint32_t expected = 0;
      if (word_.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return;
      }
      if (spins >= 64) {
        // Announce a sleeper so unlock() knows to wake it.
        expected = word_.exchange(2, std::memory_order_acquire);
        if (expected == 0) return;
        word_.wait(2, std::memory_order_relaxed);
        // Re-acquire as "contended": others may still be waiting.
        while (word_.exchange(2, std::memory_order_acquire) != 0) {
          word_.wait(2, std::memory_order_relaxed);
        }
        return;
      }
    }
  }

  void unlock() ABSL_UNLOCK_FUNCTION() {
    if (word_.exchange(0, std::memory_order_release) == 2) word_.notify_one();
  }

 private:
  std::atomic<std::uint32_t> word_{0};  // 0 free, 1 held, 2 held + sleepers
};

// Mutex
//
// std::mutex with annotations.
class ABSL_LOCKABLE Mutex {
 public:
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// MutexLock
//
// RAII holder for SpinLock and Mutex.
template <class L>
class ABSL_SCOPED_LOCKABLE LockGuard {
 public:
  explicit LockGuard(L* l) ABSL_EXCLUSIVE_LOCK_FUNCTION(l) : l_(l) {
    l_->lock();
  }
  ~LockGuard() ABSL_UNLOCK_FUNCTION() { l_->unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  L* l_;
};

using SpinLockGuard = LockGuard<SpinLock>;
using MutexLock = LockGuard<Mutex>;

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_SYNC_H_
