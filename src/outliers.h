// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Outlier detection's judgement (OutlierOptions in circuit/options.h): given
// each peer's calls since the previous evaluation, which peers are much
// worse or slower than the others, and why. A pure function of its input:
// the set gathers the figures (Breaker::TakeInterval) and carries the
// verdicts out (Breaker::Eject), so the rules are tested here alone.

#ifndef CIRCUIT_SRC_OUTLIERS_H_
#define CIRCUIT_SRC_OUTLIERS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "circuit/options.h"

namespace circuit::internal {

// One peer's calls since the previous evaluation.
struct PeerCalls {
  std::uint64_t calls = 0;     // successes and counted failures
  std::uint64_t failures = 0;
  std::int64_t median_ns = -1;  // of its kept latencies; -1: none
  bool ejectable = true;        // closed: an ejection can trip it
};

// Ejection
//
// A peer (its index in the input) judged an outlier, and why, in words for
// a log line: "median latency 48ms vs 9ms across 7 peers".
struct Ejection {
  std::size_t index = 0;
  std::string reason;
};

// Whether any rule of `o` is on.
bool OutlierRulesOn(const OutlierOptions& o) noexcept;

// JudgeOutliers()
//
// The ejectable peers of `peers` that a rule of `o` ejects, in input order,
// each once (with the first rule that ejects it: success rate, failure
// percentage, latency). A peer is judged with at least
// max(o.minimum_calls, 1) calls, and nobody is unless at least
// o.minimum_peers are. Peers that are judged but not ejectable still count
// in the statistics.
std::vector<Ejection> JudgeOutliers(std::span<const PeerCalls> peers,
                                    const OutlierOptions& o);

// The median of `v` (sorted in place): the middle value, or the mean of the
// two middle ones for an even count. REQUIRES: !v.empty().
std::int64_t MedianOf(std::span<std::int64_t> v);

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_OUTLIERS_H_
