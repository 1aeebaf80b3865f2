// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Epoch-based memory reclamation, process-wide.
//
// Readers of the peer table never take a lock and never write a shared
// cache line, so an entry (or a replaced table, policy, or listener list)
// cannot be freed the moment it is unlinked: a reader may still hold it.
// Every context pins the current epoch for its lifetime; unlinked objects
// are retired and freed once every pin taken before their unlinking is gone.
//
// A pin is two owner-only counter writes on the calling thread's record (no
// read-modify-write, no shared line). Ordering the reader's "pin, then look
// up" against the reclaimer's "unlink, then count pins" needs a store-load
// barrier on one side; the reclaimer pays it for both with membarrier(2)
// (MEMBARRIER_CMD_PRIVATE_EXPEDITED) when the kernel has it, so readers need
// only a compiler barrier. Without it, and under ThreadSanitizer, readers use
// a full fence.
//
// Pins and unpins are counted per (thread, parity of the epoch); a context
// may be unpinned on another thread than it was pinned on (async
// completions), since only the sums matter.
//
// Nothing retired may own what the user handed to a set (a listener, what
// options_for captures, the store): deleters run later, on whichever thread
// reclaims, possibly after that set is gone. Retired objects are the
// library's own memory only.
//
// Thread records. A thread's record is registered by its first pin (or
// count) and given back when the thread exits, from the destructor of a
// pthread key. glibc runs those after every C++ thread_local destructor of
// the thread, so a context settled by a thread_local destructor still uses
// the thread's own record, which no other thread can have taken yet.
// Releasing clears the thread's record pointer, so any later use (another
// key's destructor calling the library) registers again and sets the key
// again; glibc then runs one more round of key destructors, up to
// PTHREAD_DESTRUCTOR_ITERATIONS (4). A thread that still uses the library
// after that leaks its record: it stays in use for ever, which costs one
// record and nothing else (its counts are still summed).
//
// fork(). The fork handlers (pthread_atfork) take the domain's lock and
// then every lock registered with LockAroundFork (the entry pool, the
// counter id pool) before fork(), and release them after it in parent and
// child, so the child finds the process-wide state consistent and
// unlocked. In the child, which has only the forking thread, every other
// thread's record is given back: its pins are counted as released (its
// contexts are abandoned; see below), its counter lock is reset and its
// counter arrays are kept, so the child's reclamation does not wait for
// threads that do not exist there. The forking thread's own record is kept
// as it is, so contexts it holds stay pinned and may be settled in the
// child. Locks of each set are not taken around fork(); a child that finds
// one held by a thread of the parent fails at once (see sync.h), while
// sets made in the child, and the lock-free paths of older sets, work as
// usual.
//
// REQUIRES, in a child: do not settle or destroy a context that another
// thread of the parent held at fork(). Its pin was counted as released, so
// what it points to may already be freed. (Such a settle adds an unpin
// with no pin behind it; `Drained` accepts unpins >= pins so reclamation
// does not stop for good, at the price of not noticing one later pin.)
// Pins are counted per thread and not per context, so the child's count
// is exact when the forking thread settled no context of another thread
// and handed none of its own to another thread before forking.

#ifndef CIRCUIT_SRC_EPOCH_H_
#define CIRCUIT_SRC_EPOCH_H_

#include <atomic>
#include <cstdint>

#include "circuit/internal/hot_path.h"
#include "sync.h"

namespace circuit::internal {

// What one thread counted of one tally, indexed by counter id (counters.h).
struct CountArray {
  std::uint32_t size;
  std::atomic<std::uint64_t> n[1];  // `size` of them (allocated past the end)
};

// ThreadRecord
//
// One thread's record: the pins and the owner's view of its success counts
// (ThreadHot, read inline by the hot path), then what only the library
// reads.
struct alignas(64) ThreadRecord : ThreadHot {
  std::atomic<bool> in_use{false};
  ThreadRecord* next = nullptr;  // immutable once published

  // The owner's view of its rejection counts (as counts_data/counts_size
  // are of its successes).
  std::atomic<std::uint64_t>* rejects_data = nullptr;  // owner only
  std::uint32_t rejects_size = 0;                      // owner only

  // This thread's counts per tally (successes, rejections), for readers:
  // they and ReleaseId go through `arrays` under `counts_mu`, which the
  // owner also takes to replace an array (counters.h).
  std::atomic<CountArray*> arrays[2] = {nullptr, nullptr};
  SpinLock counts_mu;
};

class Epoch {
 public:
  // Epoch::Pin()
  //
  // Pins the current epoch; returns the token that `Unpin` takes. Everything
  // the caller loads after this stays allocated until the matching Unpin.
  static std::uint32_t Pin() noexcept;

  // Epoch::Unpin()
  //
  // Releases a pin; may run on any thread.
  static void Unpin(std::uint32_t token) noexcept;

  // Epoch::Records()
  //
  // The list of every thread record ever registered (records are reused,
  // never freed), linked through `next`.
  static ThreadRecord* Records() noexcept;

  // Epoch::Record()
  //
  // The calling thread's record (registered on first use).
  static ThreadRecord* Record() noexcept {
    return static_cast<ThreadRecord*>(ThisThread());
  }

  // Epoch::Retire()
  //
  // `deleter(p)` runs once no pin taken before this call remains, on any
  // thread. The caller must already have made `p` unreachable for new
  // readers. REQUIRES: `p` owns nothing of the user's (see the file
  // comment), and `deleter` takes no lock but leaf locks.
  static void Retire(void* p, void (*deleter)(void*));

  // Epoch::TryReclaim()
  //
  // Frees what can be freed now, without waiting.
  static void TryReclaim();

  // Epoch::Barrier()
  //
  // Waits until everything retired so far has been freed. Blocks while any
  // older pin is held; for tests and shutdown.
  static void Barrier();

  // Epoch::Pending()
  //
  // Objects retired and not yet freed (tests).
  static std::size_t Pending();

  // Epoch::LockAroundFork()
  //
  // Registers a process-wide leaf lock (one taken with no other library
  // lock but the domain's held after it) that fork() must not catch held:
  // the fork handlers take it after the domain's lock and release it in
  // parent and child. `mu` must live for ever.
  static void LockAroundFork(Mutex* mu);
};

inline std::uint32_t Epoch::Pin() noexcept { return EpochPin(); }

inline void Epoch::Unpin(std::uint32_t token) noexcept { EpochUnpin(token); }

// Pins for the lifetime of a scope.
class EpochGuard {
 public:
  EpochGuard() noexcept : token_(Epoch::Pin()) {}
  ~EpochGuard() { Epoch::Unpin(token_); }
  EpochGuard(const EpochGuard&) = delete;
  EpochGuard& operator=(const EpochGuard&) = delete;

 private:
  std::uint32_t token_;
};

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_EPOCH_H_
