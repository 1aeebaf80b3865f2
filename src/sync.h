// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Locks the library uses, annotated for clang's -Wthread-safety. They are
// built on std::atomic rather than absl::Mutex so that ThreadSanitizer sees
// every synchronisation (Debian's Abseil is not built with TSan
// instrumentation).
//
// fork(): a lock that another thread held when the process was forked is
// held for ever in the child, since its holder does not exist there. Each
// lock word therefore carries the fork generation of the process that took
// it (fork_detail::g_generation, bumped in every child by epoch.cc's fork
// handler), so a child that finds a lock held by a thread of its parent
// fails at once with a message (HeldAcrossFork) instead of waiting for
// ever. The process-wide locks are taken around fork() (Epoch::
// LockAroundFork), so the child always finds those free; this check is for
// the locks of each set.

#ifndef CIRCUIT_SRC_SYNC_H_
#define CIRCUIT_SRC_SYNC_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"

namespace circuit::internal {

namespace fork_detail {

// How many fork()s lie between this process and the one that loaded the
// library: 0 there, one more in each child (see epoch.cc).
extern std::atomic<std::uint32_t> g_generation;

// Reports a lock held by a thread of a parent process: one line on stderr
// naming the problem, then std::logic_error when `may_throw`, else abort().
[[noreturn]] void HeldAcrossFork(bool may_throw);

}  // namespace fork_detail

// WordLock
//
// A 4-byte lock: spins briefly, then sleeps on the word (C++20 atomic wait,
// a futex on Linux). The word is 0 when free; held, its low two bits say
// whether sleepers wait (kHeld, kSleepers) and the rest is the fork
// generation of the holder's process (see the file comment).
// `kMayThrow` picks how a lock held across fork() is reported.
template <bool kMayThrow>
class ABSL_LOCKABLE WordLock {
 public:
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    const std::uint32_t mine =
        fork_detail::g_generation.load(std::memory_order_relaxed)
        << kGenerationShift;
    for (int spins = 0;; ++spins) {
      std::uint32_t w = word_.load(std::memory_order_relaxed);
      if (w == 0) {
        if (word_.compare_exchange_weak(w, mine | kHeld,
                                        std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
          return;
        }
        continue;
      }
      // Held. By a thread of this process, unless the generation differs:
      // then its holder was a thread of a parent process, which forked.
      if ((w & ~kStateMask) != mine) fork_detail::HeldAcrossFork(kMayThrow);
      if (spins >= 64) break;
    }
    // Announce a sleeper so unlock() knows to wake it. The check above saw
    // this process's generation, so every value the word takes from now on
    // is this process's too.
    while (word_.exchange(mine | kSleepers, std::memory_order_acquire) != 0) {
      word_.wait(mine | kSleepers, std::memory_order_relaxed);
    }
  }

  void unlock() ABSL_UNLOCK_FUNCTION() {
    if ((word_.exchange(0, std::memory_order_release) & kStateMask) ==
        kSleepers) {
      word_.notify_one();
    }
  }

  // Frees the lock whatever its state. Only for a child process whose
  // holder (a thread of the parent) does not exist, while it is the only
  // thread (the fork handler).
  void ResetAfterFork() noexcept { word_.store(0, std::memory_order_relaxed); }

 private:
  static constexpr std::uint32_t kHeld = 1;
  static constexpr std::uint32_t kSleepers = 2;  // held, and sleepers wait
  static constexpr std::uint32_t kStateMask = 3;
  static constexpr int kGenerationShift = 2;

  std::atomic<std::uint32_t> word_{0};
};

// SpinLock
//
// For one breaker's slow paths (failures, transitions) and per-thread
// records: held only for short bookkeeping, never across user code. Most
// of its callers cannot throw, so one held across fork() aborts.
using SpinLock = WordLock<false>;

// Mutex
//
// For the longer sections of a set and the process-wide pools (tables,
// policies, listener lists). One held across fork() throws
// std::logic_error from the call that found it.
using Mutex = WordLock<true>;

// LockGuard
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
