// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Outlier detection's judgement alone (src/outliers.h): each rule exactly at
// its threshold and just past it, the minimums just below and at, identical
// rates, medians of odd and even counts. The set's part (gathering the
// figures, ejecting, evaluating by itself) is in set_policies_test.

#include <cstdint>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "circuit/options.h"
#include "outliers.h"

namespace circuit::testing {
using internal::Ejection;
using internal::JudgeOutliers;
using internal::MedianOf;
using internal::PeerCalls;

namespace {

// `n` peers with `calls` calls each, all successful.
std::vector<PeerCalls> Healthy(int n, std::uint64_t calls = 100) {
  return std::vector<PeerCalls>(n, PeerCalls{.calls = calls});
}

PeerCalls Failing(std::uint64_t failures, std::uint64_t calls = 100) {
  return PeerCalls{.calls = calls, .failures = failures};
}

PeerCalls Timed(std::int64_t median_ns, std::uint64_t calls = 100) {
  return PeerCalls{.calls = calls, .median_ns = median_ns};
}

std::vector<std::size_t> Indices(const std::vector<Ejection>& e) {
  std::vector<std::size_t> out;
  for (const Ejection& x : e) out.push_back(x.index);
  return out;
}

// Options with one rule on (`field` = `value`), judging every peer with a
// call.
OutlierOptions OneRule(double OutlierOptions::*field, double value) {
  OutlierOptions o;
  o.minimum_peers = 1;
  o.minimum_calls = 1;
  o.*field = value;
  return o;
}

OutlierOptions FailurePercentage(double threshold) {
  return OneRule(&OutlierOptions::failure_percentage_threshold, threshold);
}
OutlierOptions LatencyFactor(double factor) {
  return OneRule(&OutlierOptions::latency_factor, factor);
}
OutlierOptions SuccessRate(double factor) {
  return OneRule(&OutlierOptions::success_rate_stdev_factor, factor);
}

using Indexes = std::vector<std::size_t>;

}  // namespace

BOOST_AUTO_TEST_SUITE(OutliersTest)

BOOST_AUTO_TEST_CASE(MedianOfAnOddCountIsTheMiddleValue) {
  std::vector<std::int64_t> v = {9, 1, 5};
  BOOST_TEST(MedianOf(v) == 5);
}

BOOST_AUTO_TEST_CASE(MedianOfAnEvenCountIsTheMeanOfTheMiddleTwo) {
  std::vector<std::int64_t> v = {40, 10, 20, 30};
  BOOST_TEST(MedianOf(v) == 25);
  std::vector<std::int64_t> huge = {INT64_MAX, INT64_MAX - 2};
  BOOST_TEST(MedianOf(huge) == INT64_MAX - 1);  // no overflow
}

BOOST_AUTO_TEST_CASE(EveryRuleOffJudgesNothing) {
  std::vector<PeerCalls> peers = Healthy(5);
  peers.push_back(Failing(100));
  BOOST_TEST(JudgeOutliers(peers, OutlierOptions{}).empty());
}

BOOST_AUTO_TEST_CASE(FailurePercentageEjectsAtTheThresholdNotJustBelow) {
  std::vector<PeerCalls> peers = {Failing(49), Failing(50), Failing(51)};

  std::vector<Ejection> e = JudgeOutliers(peers, FailurePercentage(0.5));

  BOOST_TEST(Indices(e) == (Indexes{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(e[0].reason == "failure percentage 50% (50 of 100 calls) at or above 50%");
}

BOOST_AUTO_TEST_CASE(FailurePercentageOfOneEjectsOnlyPeersThatAlwaysFail) {
  std::vector<PeerCalls> peers = {Failing(99), Failing(100)};
  BOOST_TEST(Indices(JudgeOutliers(peers, FailurePercentage(1))) == Indexes{1},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(MinimumCallsJustBelowIsNotJudgedAtIs) {
  OutlierOptions o = FailurePercentage(0.5);
  o.minimum_calls = 20;
  std::vector<PeerCalls> peers = {Failing(19, 19), Failing(20, 20)};

  BOOST_TEST(Indices(JudgeOutliers(peers, o)) == Indexes{1},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(MinimumCallsZeroStillNeedsOneCall) {
  OutlierOptions o = FailurePercentage(0.5);
  o.minimum_calls = 0;
  std::vector<PeerCalls> peers = {PeerCalls{}, Failing(1, 1)};

  BOOST_TEST(Indices(JudgeOutliers(peers, o)) == Indexes{1},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(MinimumPeersJustBelowJudgesNobodyAtJudges) {
  OutlierOptions o = FailurePercentage(0.5);
  o.minimum_peers = 3;
  o.minimum_calls = 10;
  // Two judged peers (and one with too few calls): nobody.
  std::vector<PeerCalls> two = {Failing(100), Failing(0), Failing(9, 9)};
  BOOST_TEST(JudgeOutliers(two, o).empty());
  // Three judged: the failing one goes.
  std::vector<PeerCalls> three = {Failing(100), Failing(0), Failing(0, 10)};
  BOOST_TEST(Indices(JudgeOutliers(three, o)) == Indexes{0},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(SuccessRateBelowMeanMinusFactorStdevIsEjected) {
  // Rates 1, 1, 1, 1, 0.5: mean 0.9, population stdev 0.2, so with factor
  // 1.9 the floor is 0.52: 0.5 is below it; with factor 2.1 the floor is
  // 0.48, which it is not below.
  std::vector<PeerCalls> peers = Healthy(4);
  peers.push_back(Failing(50));

  std::vector<Ejection> e = JudgeOutliers(peers, SuccessRate(1.9));
  BOOST_TEST(Indices(e) == Indexes{4}, boost::test_tools::per_element());
  BOOST_TEST(e[0].reason ==
             "success rate 50% below 52% (mean 90% - 1.9 x stdev 20%) across 5 peers");
  BOOST_TEST(JudgeOutliers(peers, SuccessRate(2.1)).empty());
}

BOOST_AUTO_TEST_CASE(IdenticalSuccessRatesEjectNobody) {
  // Stdev 0, and a mean that rounding may put a hair above the rate: still
  // nobody is below it.
  std::vector<PeerCalls> peers = {Failing(1, 10), Failing(10, 100),
                                  Failing(3, 30), Failing(7, 70)};
  BOOST_TEST(JudgeOutliers(peers, SuccessRate(0.0001)).empty());
  BOOST_TEST(JudgeOutliers(peers, SuccessRate(1e6)).empty());
}

BOOST_AUTO_TEST_CASE(LatencyAboveFactorTimesMedianOfMediansIsEjected) {
  // Medians 10, 10, 10, 10, 30, 30.000001 ms: the median of medians is 10ms,
  // so with factor 3 the limit is 30ms: the peer at 30ms stays, the one a
  // nanosecond slower goes.
  std::vector<PeerCalls> peers = {Timed(10'000'000), Timed(10'000'000),
                                  Timed(10'000'000), Timed(10'000'000),
                                  Timed(30'000'000), Timed(30'000'001)};

  std::vector<Ejection> e = JudgeOutliers(peers, LatencyFactor(3));

  BOOST_TEST(Indices(e) == Indexes{5}, boost::test_tools::per_element());
  BOOST_TEST(e[0].reason == "median latency 30.000001ms vs 10ms across 6 peers");
}

BOOST_AUTO_TEST_CASE(LatencyIgnoresPeersWithoutSamples) {
  std::vector<PeerCalls> peers = {Timed(-1), Timed(-1), Timed(10), Timed(50)};
  // Medians 10 and 50: the median of medians is 30; 50 is not above 2 x 30.
  BOOST_TEST(JudgeOutliers(peers, LatencyFactor(2)).empty());
  // ... but is above 1.5 x 30.
  BOOST_TEST(Indices(JudgeOutliers(peers, LatencyFactor(1.5))) == Indexes{3},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(APeerThatCannotBeEjectedStillCountsInTheStatistics) {
  // Medians 10, 10 and 50: the median of medians is 10, and 50 is above
  // 2 x 10. Three slow peers that are not closed (not ejectable) raise the
  // median of medians to 75: then nobody is.
  std::vector<PeerCalls> peers = {Timed(10), Timed(10), Timed(50)};
  BOOST_TEST(Indices(JudgeOutliers(peers, LatencyFactor(2))) == Indexes{2},
             boost::test_tools::per_element());
  for (int i = 0; i < 3; ++i) {
    peers.push_back(Timed(100));
    peers.back().ejectable = false;
  }
  BOOST_TEST(JudgeOutliers(peers, LatencyFactor(2)).empty());
}

BOOST_AUTO_TEST_CASE(APeerIsEjectedOnceWithTheFirstRuleThatFires) {
  OutlierOptions o = SuccessRate(1);
  o.failure_percentage_threshold = 0.5;
  std::vector<PeerCalls> peers = Healthy(4);
  peers.push_back(Failing(100));

  std::vector<Ejection> e = JudgeOutliers(peers, o);

  BOOST_TEST(e.size() == 1u);
  BOOST_TEST(e[0].reason.rfind("success rate", 0) == 0u, e[0].reason);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
