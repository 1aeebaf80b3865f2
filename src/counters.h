// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Per-thread counters of successes and rejections.
//
// A closed breaker's success counter is the one write on its hot path, and
// an open breaker's rejection counter the one write of a rejection. An
// atomic add there would be a locked instruction on every call: a full
// barrier that stalls the next call's loads, and, with two threads on one
// hot peer, a cache line (the one holding the peer's state word) bouncing
// between their cores. So each breaker has a small counter id, and each
// thread counts into arrays of its own indexed by id (one per tally): a
// plain load and store on memory no other thread writes.
//
// Reading a count sums every thread's array: exact once the counting
// threads are quiescent (joined, or synchronised with the reader), merely
// close while they run. A thread's array grows the first time it counts an
// id past its end. When it cannot (no memory, or the breaker got no id) the
// count goes to the breaker's own atomic `spill` counter instead, so no
// count is ever lost.
//
// Ids are reused: releasing one zeroes it in every thread's arrays first,
// which is safe because the breaker is gone (epoch.h) and nothing can count
// into the id until a new breaker is given it.

#ifndef CIRCUIT_SRC_COUNTERS_H_
#define CIRCUIT_SRC_COUNTERS_H_

#include <atomic>
#include <cstdint>

#include "epoch.h"

namespace circuit::internal {

class ThreadCounts {
 public:
  using Counter = std::atomic<std::uint64_t>;

  enum Tally { kSuccesses = 0, kRejections = 1 };

  // The id of a breaker that could not get one: it counts into its spill.
  static constexpr std::uint32_t kNoId = UINT32_MAX;

  // ThreadCounts::AcquireId()
  //
  // A free id (its counts are zero), or kNoId when memory is short.
  static std::uint32_t AcquireId() noexcept;

  // ThreadCounts::ReleaseId()
  //
  // Zeroes `id` in every thread's arrays and frees it for reuse.
  // REQUIRES: no thread counts into `id` concurrently or later.
  static void ReleaseId(std::uint32_t id) noexcept;

  // ThreadCounts::CountRejection()
  //
  // Adds one to the rejections of `id` (or to `*spill`). Successes are
  // counted inline: CountSuccess() in circuit/internal/hot_path.h.
  static void CountRejection(std::uint32_t id, Counter* spill) noexcept {
    ThreadRecord* r = Epoch::Record();
    if (!CountOwned(r->rejects_data, r->rejects_size, id)) {
      IncrementSlow(r, kRejections, id, spill);
    }
  }

  // ThreadCounts::CountSuccessSlow()
  //
  // Adds one to the successes of `id` (or to `*spill`) when the calling
  // thread's array must grow first (see CountSuccess in
  // circuit/internal/hot_path.h).
  static void CountSuccessSlow(std::uint32_t id, Counter* spill) noexcept {
    IncrementSlow(Epoch::Record(), kSuccesses, id, spill);
  }

  // ThreadCounts::Read()
  //
  // `spill` plus what every thread counted of `tally` for `id`.
  static std::uint64_t Read(Tally tally, std::uint32_t id,
                            const Counter& spill) noexcept;

 private:

  // Grows the calling thread's `tally` array to hold `id` and counts into
  // it, or counts into `*spill`.
  static void IncrementSlow(ThreadRecord* r, Tally tally, std::uint32_t id,
                            Counter* spill) noexcept;
};

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_COUNTERS_H_
