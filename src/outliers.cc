// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "outliers.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace circuit::internal {
namespace {

std::string Percent(double fraction) {
  return absl::StrFormat("%.3g%%", 100 * fraction);
}

std::string Latency(std::int64_t ns) {
  return absl::FormatDuration(absl::Nanoseconds(ns));
}

// A success rate as a reduced fraction (successes, calls).
std::pair<std::uint64_t, std::uint64_t> Reduced(const PeerCalls& p) {
  const std::uint64_t s = p.calls - p.failures;
  const std::uint64_t g = std::gcd(s, p.calls);
  return {s / g, p.calls / g};
}

// Whether every judged peer has the same success rate, compared exactly:
// then the standard deviation is 0 and no rate is below the mean, whatever
// rounding the floating-point mean picks up.
bool SameRates(std::span<const PeerCalls> peers,
               const std::vector<std::size_t>& judged) {
  const auto first = Reduced(peers[judged.front()]);
  for (std::size_t i : judged) {
    if (Reduced(peers[i]) != first) return false;
  }
  return true;
}

}  // namespace

bool OutlierRulesOn(const OutlierOptions& o) noexcept {
  return o.success_rate_stdev_factor > 0 || o.failure_percentage_threshold > 0 ||
         o.latency_factor > 0;
}

std::int64_t MedianOf(std::span<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  if (n % 2 == 1) return v[n / 2];
  // The mean of the two middle values, without overflow.
  const std::int64_t a = v[n / 2 - 1], b = v[n / 2];
  return a + (b - a) / 2;
}

std::vector<Ejection> JudgeOutliers(std::span<const PeerCalls> peers,
                                    const OutlierOptions& o) {
  std::vector<Ejection> out;
  if (!OutlierRulesOn(o)) return out;
  const std::uint64_t min_calls =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(o.minimum_calls));
  std::vector<std::size_t> judged;
  for (std::size_t i = 0; i < peers.size(); ++i) {
    if (peers[i].calls >= min_calls) judged.push_back(i);
  }
  if (judged.size() < static_cast<std::size_t>(o.minimum_peers)) return out;
  const double n = static_cast<double>(judged.size());
  auto rate = [&](std::size_t i) {
    const PeerCalls& p = peers[i];
    return static_cast<double>(p.calls - p.failures) /
           static_cast<double>(p.calls);
  };

  // Success rate: below mean - factor * (population) stdev.
  double mean = 0, stdev = 0;
  bool rates_differ = false;
  if (o.success_rate_stdev_factor > 0) {
    for (std::size_t i : judged) mean += rate(i);
    mean /= n;
    for (std::size_t i : judged) stdev += (rate(i) - mean) * (rate(i) - mean);
    stdev = std::sqrt(stdev / n);
    rates_differ = !SameRates(peers, judged);
  }
  const double rate_floor = mean - o.success_rate_stdev_factor * stdev;

  // Latency: above factor * the median of the judged peers' medians.
  std::vector<std::int64_t> medians;
  std::int64_t median_of_medians = 0;
  if (o.latency_factor > 0) {
    for (std::size_t i : judged) {
      if (peers[i].median_ns >= 0) medians.push_back(peers[i].median_ns);
    }
    if (!medians.empty()) median_of_medians = MedianOf(medians);
  }

  for (std::size_t i : judged) {
    const PeerCalls& p = peers[i];
    if (!p.ejectable) continue;
    std::string reason;
    if (rates_differ && rate(i) < rate_floor) {
      reason = absl::StrCat("success rate ", Percent(rate(i)), " below ",
                            Percent(rate_floor), " (mean ", Percent(mean),
                            " - ", o.success_rate_stdev_factor, " x stdev ",
                            Percent(stdev), ") across ", judged.size(),
                            " peers");
    } else if (o.failure_percentage_threshold > 0 &&
               static_cast<double>(p.failures) >=
                   o.failure_percentage_threshold *
                       static_cast<double>(p.calls)) {
      reason = absl::StrCat("failure percentage ",
                            Percent(static_cast<double>(p.failures) /
                                    static_cast<double>(p.calls)),
                            " (", p.failures, " of ", p.calls,
                            " calls) at or above ",
                            Percent(o.failure_percentage_threshold));
    } else if (!medians.empty() && p.median_ns >= 0 &&
               static_cast<double>(p.median_ns) >
                   o.latency_factor * static_cast<double>(median_of_medians)) {
      reason = absl::StrCat("median latency ", Latency(p.median_ns), " vs ",
                            Latency(median_of_medians), " across ",
                            medians.size(), " peers");
    } else {
      continue;
    }
    out.push_back(Ejection{i, std::move(reason)});
  }
  return out;
}

}  // namespace circuit::internal
