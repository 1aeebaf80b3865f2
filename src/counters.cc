// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "counters.h"

#include <thread>

namespace circuit::internal {

static_assert((ThreadRecord::kCounterSlots & (ThreadRecord::kCounterSlots - 1)) == 0,
              "Index() masks");
static_assert(ThreadRecord::kCounterSlots <= 32, "Index() takes 5 bits");

void CounterCache::IncrementSlow(ThreadRecord* r, unsigned i, Counter* c,
                                 std::atomic<bool>* ever_cached) noexcept {
  CounterSlot& s = r->counters[i];
  Counter* held = s.target.load(std::memory_order_relaxed);
  if (held != nullptr) {
    if (++r->misses[i] < kStealAfter) {
      c->fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // Flush the held counter, marking the slot busy so that a Scrub of it
    // waits until the flush is done. Fails only if a Scrub cleared it.
    if (s.target.compare_exchange_strong(held, Busy(),
                                         std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
      held->fetch_add(s.pending.load(std::memory_order_relaxed),
                      std::memory_order_relaxed);
    }
  }
  r->misses[i] = 0;
  // Take the slot for `c`. The flag first, so that whoever sees `c` in a
  // cache also sees it set; the count before the target, so that a reader
  // that sees the target sees this count.
  if (!ever_cached->load(std::memory_order_relaxed)) {
    ever_cached->store(true, std::memory_order_release);
  }
  s.pending.store(1, std::memory_order_relaxed);
  s.target.store(c, std::memory_order_release);
}

std::uint64_t CounterCache::Read(const Counter* c,
                                 const std::atomic<bool>* ever_cached) noexcept {
  std::uint64_t total = c->load(std::memory_order_acquire);
  if (!ever_cached->load(std::memory_order_acquire)) return total;
  const unsigned i = Index(c);
  for (ThreadRecord* r = Epoch::Records(); r != nullptr; r = r->next) {
    const CounterSlot& s = r->counters[i];
    if (s.target.load(std::memory_order_acquire) == c) {
      total += s.pending.load(std::memory_order_relaxed);
    }
  }
  return total;
}

void CounterCache::Scrub(Counter* c,
                         const std::atomic<bool>* ever_cached) noexcept {
  if (!ever_cached->load(std::memory_order_acquire)) return;
  const unsigned i = Index(c);
  for (ThreadRecord* r = Epoch::Records(); r != nullptr; r = r->next) {
    CounterSlot& s = r->counters[i];
    for (;;) {
      Counter* t = s.target.load(std::memory_order_acquire);
      if (t == Busy()) {  // a flush in progress: it may be into `c`
        std::this_thread::yield();
        continue;
      }
      if (t != c) break;
      if (s.target.compare_exchange_weak(t, nullptr, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
        break;
      }
    }
  }
}

}  // namespace circuit::internal
