// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Huge pages for the big arrays of a big set.
//
// A set of a million peers spreads its lookups over some 200 MB (entries,
// table slots, per-thread counts); in 4 KiB pages nearly every random lookup
// misses the TLB on each of them. Linux backs a range with 2 MiB pages when
// asked (transparent huge pages, whose default mode is "madvise"), which
// takes those misses away. The library asks for it on arrays of 4 MiB and
// more only: a small set's memory stays in small pages, where a huge page
// would be mostly empty.

#ifndef CIRCUIT_SRC_HUGE_PAGES_H_
#define CIRCUIT_SRC_HUGE_PAGES_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace circuit::internal {

inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

// AdviseHugePages()
//
// Asks for huge pages on the 2 MiB-aligned part of [p, p + bytes) when
// `bytes` is at least two huge pages; call it before the range is first
// written. A hint: where the kernel cannot, nothing changes.
inline void AdviseHugePages(void* p, std::size_t bytes) noexcept {
  if (bytes < 2 * kHugePageBytes) return;
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first =
      (begin + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const std::uintptr_t last = (begin + bytes) & ~(kHugePageBytes - 1);
#ifdef MADV_HUGEPAGE
  if (last > first) {
    madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
#else
  (void)first;
  (void)last;
#endif
}

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_HUGE_PAGES_H_
