// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Per-thread caches of hot counters.
//
// A closed breaker's success counter is the one write on its hot path. Two
// threads calling one hot peer would bounce that counter's cache line
// between their cores on every call (and with it the line holding the
// peer's state word, which every admission reads). So a thread counts into
// a small direct-mapped cache in its epoch record instead: a slot names the
// counter it caches and holds the count not yet added to it. A hit is a
// plain load and store on the thread's own line.
//
// A miss on a slot held by another counter adds to the counter directly
// (an uncontended atomic add: with many peers, calls rarely share one);
// after kStealAfter such misses the slot is flushed into its counter and
// taken over, so a thread's hot counters end up cached.
//
// Reading a counter adds what every cache holds for it: exact once the
// threads that counted are quiescent (joined, or synchronised with the
// reader), merely close while they run. Before a counter's memory is freed
// Scrub() takes it out of every cache; a slot being flushed is marked busy,
// and Scrub waits for the flush to finish.
//
// `ever_cached` (one per owner of counters) says whether any cache ever held
// one of its counters, so Read and Scrub of a counter that never was
// skip the scan of every thread's cache.

#ifndef CIRCUIT_SRC_COUNTERS_H_
#define CIRCUIT_SRC_COUNTERS_H_

#include <atomic>
#include <cstdint>

#include "epoch.h"

namespace circuit::internal {

class CounterCache {
 public:
  using Counter = std::atomic<std::uint64_t>;

  // CounterCache::Increment()
  //
  // Adds one to `*c`, through the calling thread's cache.
  static void Increment(Counter* c, std::atomic<bool>* ever_cached) noexcept {
    ThreadRecord* r = Epoch::Record();
    const unsigned i = Index(c);
    CounterSlot& s = r->counters[i];
    if (s.target.load(std::memory_order_relaxed) == c) [[likely]] {
      s.pending.store(s.pending.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
      return;
    }
    IncrementSlow(r, i, c, ever_cached);
  }

  // CounterCache::Read()
  //
  // `*c` plus what the caches hold for it.
  static std::uint64_t Read(const Counter* c,
                            const std::atomic<bool>* ever_cached) noexcept;

  // CounterCache::Scrub()
  //
  // Takes `c` out of every cache (dropping what they hold for it).
  // REQUIRES: no thread increments `*c` concurrently or later.
  static void Scrub(Counter* c, const std::atomic<bool>* ever_cached) noexcept;

 private:
  static constexpr int kStealAfter = 8;

  static unsigned Index(const Counter* c) noexcept {
    auto a = reinterpret_cast<std::uintptr_t>(c);
    return static_cast<unsigned>(((a >> 3) * 0x9E3779B97F4A7C15ull) >> 59) &
           (ThreadRecord::kCounterSlots - 1);
  }
  static Counter* Busy() noexcept {
    return reinterpret_cast<Counter*>(std::uintptr_t{1});
  }

  static void IncrementSlow(ThreadRecord* r, unsigned i, Counter* c,
                            std::atomic<bool>* ever_cached) noexcept;
};

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_COUNTERS_H_
