// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "counters.h"

#include <algorithm>
#include <new>
#include <vector>

#include "huge_pages.h"
#include "sync.h"

namespace circuit::internal {
namespace {

// The largest array a thread keeps (ids past it spill): 2^30 counters.
constexpr std::uint32_t kMaxSize = std::uint32_t{1} << 30;
// The smallest array: 4096 counters (32 KiB), so that a thread's first
// peers do not regrow it again and again.
constexpr std::uint32_t kMinSize = 4096;

// Ids are handed out densely (so that arrays stay as small as the most
// breakers ever alive at once) and freed ones are reused first.
struct IdPool {
  Mutex mu;
  std::uint32_t next ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::uint32_t> free ABSL_GUARDED_BY(mu);
};

IdPool& Ids() {
  // Never destroyed: breakers may outlive main. Taken around fork(), so a
  // child can always make breakers.
  static IdPool* pool = [] {
    auto* p = new IdPool;
    Epoch::LockAroundFork(&p->mu);
    return p;
  }();
  return *pool;
}

CountArray* NewArray(std::uint32_t size) noexcept {
  void* p = ::operator new(
      sizeof(CountArray) + (std::size_t{size} - 1) * sizeof(std::uint64_t),
      std::nothrow);
  if (p == nullptr) return nullptr;
  AdviseHugePages(p, sizeof(CountArray) +
                         (std::size_t{size} - 1) * sizeof(std::uint64_t));
  auto* a = static_cast<CountArray*>(p);
  a->size = size;
  for (std::uint32_t i = 0; i < size; ++i) {
    new (&a->n[i]) std::atomic<std::uint64_t>(0);
  }
  return a;
}

// The owner's copies of one tally's array in its record.
struct OwnerView {
  std::atomic<std::uint64_t>** data;
  std::uint32_t* size;
};

OwnerView ViewOf(ThreadRecord* r, ThreadCounts::Tally tally) {
  if (tally == ThreadCounts::kSuccesses) return {&r->counts_data, &r->counts_size};
  return {&r->rejects_data, &r->rejects_size};
}

}  // namespace

std::uint32_t ThreadCounts::AcquireId() noexcept {
  IdPool& ids = Ids();
  MutexLock lock(&ids.mu);
  if (!ids.free.empty()) {
    std::uint32_t id = ids.free.back();
    ids.free.pop_back();
    return id;
  }
  if (ids.next >= kMaxSize) return kNoId;
  return ids.next++;
}

void ThreadCounts::ReleaseId(std::uint32_t id) noexcept {
  if (id == kNoId) return;
  for (ThreadRecord* r = Epoch::Records(); r != nullptr; r = r->next) {
    SpinLockGuard lock(&r->counts_mu);
    for (std::atomic<CountArray*>& array : r->arrays) {
      CountArray* a = array.load(std::memory_order_relaxed);
      if (a != nullptr && id < a->size) {
        a->n[id].store(0, std::memory_order_relaxed);
      }
    }
  }
  IdPool& ids = Ids();
  MutexLock lock(&ids.mu);
  try {
    ids.free.push_back(id);
  } catch (const std::bad_alloc&) {
    // Memory short: the id is never reused, which costs only id space.
  }
}

std::uint64_t ThreadCounts::Read(Tally tally, std::uint32_t id,
                                 const Counter& spill) noexcept {
  std::uint64_t total = spill.load(std::memory_order_acquire);
  if (id == kNoId) return total;
  for (ThreadRecord* r = Epoch::Records(); r != nullptr; r = r->next) {
    SpinLockGuard lock(&r->counts_mu);
    const CountArray* a = r->arrays[tally].load(std::memory_order_relaxed);
    if (a != nullptr && id < a->size) {
      total += a->n[id].load(std::memory_order_relaxed);
    }
  }
  return total;
}

void ThreadCounts::IncrementSlow(ThreadRecord* r, Tally tally,
                                 std::uint32_t id, Counter* spill) noexcept {
  OwnerView view = ViewOf(r, tally);
  CountArray* grown = nullptr;
  if (id < kMaxSize) {
    std::uint32_t size = std::max({kMinSize, id + 1, *view.size * 2});
    grown = NewArray(std::min(size, kMaxSize));
  }
  if (grown == nullptr) {
    spill->fetch_add(1, std::memory_order_relaxed);
    return;
  }
  CountArray* old;
  {
    // Readers and ReleaseId hold the lock while they use the array, so the
    // old one can be freed as soon as it is replaced.
    SpinLockGuard lock(&r->counts_mu);
    old = r->arrays[tally].load(std::memory_order_relaxed);
    if (old != nullptr) {
      for (std::uint32_t i = 0; i < old->size; ++i) {
        grown->n[i].store(old->n[i].load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
      }
    }
    r->arrays[tally].store(grown, std::memory_order_release);
    *view.data = grown->n;
    *view.size = grown->size;
  }
  ::operator delete(old);
  CountOwned(grown->n, grown->size, id);
}

}  // namespace circuit::internal
