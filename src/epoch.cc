// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "epoch.h"

#include <cxxabi.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "sync.h"

namespace circuit::internal {
namespace {

bool RegisterMembarrier() {
  // TSan cannot see membarrier; readers then use fences it understands.
  if constexpr (kThreadSanitizer) return false;
  long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
                 0) == 0;
}

using epoch_detail::g_epoch;
using epoch_detail::kMembarrierBit;

bool UsesMembarrier() {
  return (g_epoch.load(std::memory_order_relaxed) & kMembarrierBit) != 0;
}

std::atomic<ThreadRecord*> g_records{nullptr};

struct Retired {
  void* p;
  void (*deleter)(void*);
};

struct Domain {
  Mutex mu;
  std::vector<Retired> current ABSL_GUARDED_BY(mu);
  std::vector<Retired> draining ABSL_GUARDED_BY(mu);
  std::uint32_t draining_parity ABSL_GUARDED_BY(mu) = 0;
  // Taken after `mu` around fork() (LockAroundFork).
  std::vector<Mutex*> fork_locks ABSL_GUARDED_BY(mu);
};

Domain& TheDomain() {
  static Domain* d = new Domain;  // never destroyed: threads may outlive main
  return *d;
}

// The reclaimer-side half: after it, every pin stored before a reader's
// subsequent loads is visible here.
void ReclaimerBarrier() {
  if (UsesMembarrier() &&
      syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
    return;
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

bool Drained(std::uint32_t parity) {
  // Unpins first: a pin is always stored before its unpin (the context moved
  // between threads with a happens-before edge), so this order can only
  // over-count what is outstanding, never miss it. Unpins exceed pins only
  // after a child process settled a context abandoned at fork() (see
  // epoch.h); counting that as drained keeps reclamation going.
  std::uint64_t unpins = 0, pins = 0;
  ThreadRecord* head = g_records.load(std::memory_order_acquire);
  for (ThreadRecord* r = head; r != nullptr; r = r->next) {
    unpins += r->unpins[parity].load(std::memory_order_acquire);
  }
  for (ThreadRecord* r = head; r != nullptr; r = r->next) {
    pins += r->pins[parity].load(std::memory_order_acquire);
  }
  return unpins >= pins;
}

void Free(std::vector<Retired>& list) {
  for (const Retired& r : list) r.deleter(r.p);
  list.clear();
}

// Returns whether anything is still pending.
bool TryReclaimLocked(Domain& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu) {
  if (!d.draining.empty()) {
    if (!Drained(d.draining_parity)) return true;
    Free(d.draining);
  }
  if (d.current.empty()) return false;
  std::uint64_t old = g_epoch.fetch_add(1, std::memory_order_seq_cst);
  ReclaimerBarrier();
  std::swap(d.draining, d.current);
  d.draining_parity = static_cast<std::uint32_t>(old & 1);
  // Short-lived pins are usually gone already: try once more at once.
  if (Drained(d.draining_parity)) Free(d.draining);
  return !d.draining.empty();
}

// Gives a thread's record back when the thread exits: the destructor of
// RecordKey(), which glibc runs after the thread's C++ thread_local
// destructors (see epoch.h). Counts stay, since only the sums over all
// records matter. Later use by this thread registers again.
void ReleaseRecord(void* p) {
  auto* r = static_cast<ThreadRecord*>(p);
  if (epoch_detail::tl_record == r) epoch_detail::tl_record = nullptr;
  // Release: this thread's last counts happen before the next owner's.
  r->in_use.store(false, std::memory_order_release);
}

struct Key {
  pthread_key_t key;
  bool ok;
};

// The key whose destructor releases records. Without one (the process ran
// out of keys), records are never released: one per thread ever started.
const Key& RecordKey() {
  static const Key key = [] {
    Key k;
    k.ok = pthread_key_create(&k.key, &ReleaseRecord) == 0;
    return k;
  }();
  return key;
}

ThreadRecord* Register() {
  for (ThreadRecord* r = g_records.load(std::memory_order_acquire); r != nullptr;
       r = r->next) {
    bool expected = false;
    if (!r->in_use.load(std::memory_order_relaxed) &&
        r->in_use.compare_exchange_strong(expected, true,
                                          std::memory_order_acquire)) {
      return r;
    }
  }
  auto* r = new ThreadRecord;
  r->in_use.store(true, std::memory_order_relaxed);
  ThreadRecord* head = g_records.load(std::memory_order_relaxed);
  do {
    r->next = head;
  } while (!g_records.compare_exchange_weak(head, r, std::memory_order_release,
                                            std::memory_order_relaxed));
  return r;
}

}  // namespace

ThreadRecord* Epoch::Records() noexcept {
  return g_records.load(std::memory_order_acquire);
}

// Declared in circuit/internal/hot_path.h, in its ABI namespace.
inline namespace abi_v1 {
namespace epoch_detail {

// Starts without the membarrier bit (readers fence) until registration
// below sets it.
std::atomic<std::uint64_t> g_epoch{0};

// Dynamic initialisation: a Pin() that runs before it (another static
// initialiser) sees false and takes the full fence, which is always safe.
[[maybe_unused]] const bool g_membarrier_registered = [] {
  if (!RegisterMembarrier()) return false;
  g_epoch.fetch_or(kMembarrierBit, std::memory_order_seq_cst);
  return true;
}();

__thread ThreadHot* tl_record __attribute__((tls_model("initial-exec"))) =
    nullptr;

ThreadHot* RegisterThread() noexcept {
  ThreadRecord* r = Register();
#if defined(__GLIBCXX__) && defined(__GXX_ABI_VERSION)
  r->eh = reinterpret_cast<const EhGlobals*>(abi::__cxa_get_globals());
#endif
  tl_record = r;
  const Key& key = RecordKey();
  if (key.ok) pthread_setspecific(key.key, r);
  return r;
}

}  // namespace epoch_detail
}  // namespace abi_v1

void Epoch::Retire(void* p, void (*deleter)(void*)) {
  Domain& d = TheDomain();
  MutexLock lock(&d.mu);
  d.current.push_back({p, deleter});
  if (d.current.size() >= 64) TryReclaimLocked(d);
}

void Epoch::TryReclaim() {
  Domain& d = TheDomain();
  MutexLock lock(&d.mu);
  TryReclaimLocked(d);
}

void Epoch::Barrier() {
  Domain& d = TheDomain();
  for (;;) {
    {
      MutexLock lock(&d.mu);
      if (!TryReclaimLocked(d) && d.current.empty()) return;
    }
    std::this_thread::yield();
  }
}

std::size_t Epoch::Pending() {
  Domain& d = TheDomain();
  MutexLock lock(&d.mu);
  return d.current.size() + d.draining.size();
}

void Epoch::LockAroundFork(Mutex* mu) {
  Domain& d = TheDomain();
  MutexLock lock(&d.mu);
  d.fork_locks.push_back(mu);
}

// ---------------------------------------------------------------------------
// fork()

namespace fork_detail {

std::atomic<std::uint32_t> g_generation{0};

void HeldAcrossFork(bool may_throw) {
  static constexpr char kWhat[] =
      "circuit: a CircuitBreakerSet made before fork() is used in the child "
      "while one of its locks was held by another thread of the parent; that "
      "thread does not exist here, so the lock is never released (make a new "
      "set in the child)";
  std::fprintf(stderr, "%s\n", kWhat);
  if (may_throw) throw std::logic_error(kWhat);
  std::abort();
}

}  // namespace fork_detail

namespace {

// pthread_atfork handlers. Lock order: the domain's lock, then the
// registered leaf locks in registration order.
void PrepareFork() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Domain& d = TheDomain();
  d.mu.lock();
  for (Mutex* mu : d.fork_locks) mu->lock();
}

void UnlockAfterFork(Domain& d) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  for (auto it = d.fork_locks.rbegin(); it != d.fork_locks.rend(); ++it) {
    (*it)->unlock();
  }
  d.mu.unlock();
}

void ParentAfterFork() { UnlockAfterFork(TheDomain()); }

// Gives back `r`, the record of a thread that does not exist in this child:
// its outstanding pins are dropped, its counter lock (which any thread of
// the parent may have held) is freed, and its owner's view of its counter
// arrays is read again from the arrays, in case the fork caught the owner
// growing one.
void AdoptVanished(ThreadRecord* r) {
  for (int parity = 0; parity < 2; ++parity) {
    r->unpins[parity].store(r->pins[parity].load(std::memory_order_relaxed),
                            std::memory_order_relaxed);
  }
  CountArray* successes = r->arrays[0].load(std::memory_order_relaxed);
  r->counts_data = successes != nullptr ? successes->n : nullptr;
  r->counts_size = successes != nullptr ? successes->size : 0;
  CountArray* rejections = r->arrays[1].load(std::memory_order_relaxed);
  r->rejects_data = rejections != nullptr ? rejections->n : nullptr;
  r->rejects_size = rejections != nullptr ? rejections->size : 0;
  r->in_use.store(false, std::memory_order_relaxed);
}

void ChildAfterFork() {
  // Only this thread exists now.
  fork_detail::g_generation.fetch_add(1, std::memory_order_relaxed);
  if (UsesMembarrier() && !RegisterMembarrier()) {
    // Readers must fence again if the child cannot use membarrier(2).
    g_epoch.fetch_and(~kMembarrierBit, std::memory_order_seq_cst);
  }
  auto* self = static_cast<ThreadRecord*>(epoch_detail::tl_record);
  for (ThreadRecord* r = g_records.load(std::memory_order_acquire);
       r != nullptr; r = r->next) {
    r->counts_mu.ResetAfterFork();  // readers of any record may have held it
    if (r != self) AdoptVanished(r);
  }
  UnlockAfterFork(TheDomain());
}

[[maybe_unused]] const int g_fork_handlers =
    pthread_atfork(&PrepareFork, &ParentAfterFork, &ChildAfterFork);

}  // namespace

}  // namespace circuit::internal
