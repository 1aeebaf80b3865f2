// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Judging peers together (DESIGN.md 2.3), through the set: the cap on open
// peers (max_open_fraction), outlier ejection (OutlierOptions,
// evaluate_outliers and the evaluation that runs by itself) and the per-peer
// bulkhead (max_concurrent_calls). Every rule on ManualClock at its edges;
// the concurrency cases assert exact invariants (never more open than the
// limit, never more inside than the bulkhead).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/errors.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

// A set on ManualClock with `fraction` as max_open_fraction and a
// RecordingListener; by default its peers open on their first counted
// failure.
struct CappedFixture {
  explicit CappedFixture(double fraction, SetOptions o = FirstFailureTrips())
      : set([&] {
          o.clock = &clock;
          o.max_open_fraction = fraction;
          return o;
        }()) {
    set.add_listener(listener);
  }

  static SetOptions FirstFailureTrips() {
    SetOptions o;
    o.defaults.max_failures = 0;
    return o;
  }

  // Creates peers "p<from>".."p<to-1>" with one success each.
  void Peers(int to, int from = 0) {
    for (int i = from; i < to; ++i) Succeed(set, "p" + std::to_string(i));
  }

  // How many peers are not closed.
  int NotClosed() const {
    int n = 0;
    for (const PeerSnapshot& s : set.snapshot()) n += s.state != State::kClosed;
    return n;
  }

  ManualClock clock;
  CircuitBreakerSet set;
  std::shared_ptr<RecordingListener> listener =
      std::make_shared<RecordingListener>();
};

// The number of peers automatic trips may leave open, for `peers` peers.
struct Rounding {
  double fraction;
  int peers;
  int limit;
};

std::ostream& operator<<(std::ostream& os, const Rounding& r) {
  return os << r.fraction << " of " << r.peers;
}

const Rounding kRoundings[] = {
    {0.1, 1, 1},   // max(1, floor(0.1)) = 1
    {0.5, 1, 1},   //
    {0.5, 2, 1},   // floor(1.0)
    {0.1, 8, 1},   // floor(0.8) = 0, at least 1
    {0.25, 8, 2},  // floor(2.0)
    {0.3, 8, 2},   // floor(2.4)
    {0.99, 8, 7},  // floor(7.92)
    {1, 8, 8},
};

}  // namespace

// ---------------------------------------------------------------------------
// max_open_fraction

BOOST_AUTO_TEST_SUITE(MaxOpenFractionTest)

// Every peer fails in turn: exactly `limit` trip, the rest are suppressed.
BOOST_DATA_TEST_CASE(AutomaticTripsStopAtTheRoundedLimit,
                     bdata::make(kRoundings), r) {
  CappedFixture f(r.fraction);
  f.Peers(r.peers);

  for (int i = 0; i < r.peers; ++i) FailOnce(f.set, "p" + std::to_string(i));

  BOOST_TEST(f.NotClosed() == r.limit);
  std::uint64_t suppressed = 0;
  for (const PeerSnapshot& s : f.set.snapshot()) suppressed += s.suppressed_trips;
  BOOST_TEST(suppressed == static_cast<std::uint64_t>(r.peers - r.limit));
}

BOOST_AUTO_TEST_CASE(TheLimitFollowsTheNumberOfPeers) {
  CappedFixture f(0.25);
  f.Peers(4);  // limit 1
  FailOnce(f.set, "p0");
  FailOnce(f.set, "p1");
  BOOST_TEST(f.set.state("p1") == State::kClosed);

  f.Peers(8, 4);  // four more peers: limit 2
  FailOnce(f.set, "p1");

  BOOST_TEST(f.set.state("p1") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ASuppressedTripKeepsItsHistoryAndTripsOnceThereIsRoom) {
  SetOptions o;
  o.defaults.max_failures = 2;  // the third failure in the window trips
  CappedFixture f(0.5, o);
  f.Peers(2);  // limit 1
  f.set.open("p0");

  Fail(f.set, "p1", 3);  // would trip: suppressed
  BOOST_TEST(f.set.state("p1") == State::kClosed);
  BOOST_TEST(SnapshotOf(f.set, "p1").failures_in_window == 2);
  BOOST_TEST(SnapshotOf(f.set, "p1").suppressed_trips == 1u);

  f.set.close("p0");
  FailOnce(f.set, "p1");  // the history is still there: trips at once

  BOOST_TEST(f.set.state("p1") == State::kOpen);
  BOOST_TEST(SnapshotOf(f.set, "p1").trips == 1u);
}

BOOST_AUTO_TEST_CASE(ListenersHearTheSuppressedTrip) {
  CappedFixture f(0.5);
  f.Peers(2);
  FailOnce(f.set, "p0");

  FailOnce(f.set, "p1");

  std::vector<std::string> lines = f.listener->events();
  BOOST_TEST(lines.back() == "trip_suppressed p1");
  BOOST_TEST(std::count(lines.begin(), lines.end(), "state_change p1 closed->open") == 0);
}

BOOST_AUTO_TEST_CASE(ManualOpensAreNeverRefusedAndCount) {
  CappedFixture f(0.5);
  f.Peers(4);  // limit 2
  f.set.open("p0");
  f.set.force_open("p1");
  f.set.half_open("p2");  // three now: over the limit, asked for

  BOOST_TEST(f.NotClosed() == 3);
  FailOnce(f.set, "p3");
  BOOST_TEST(f.set.state("p3") == State::kClosed);

  f.set.close("p0");  // two left: still no room
  FailOnce(f.set, "p3");
  BOOST_TEST(f.set.state("p3") == State::kClosed);

  f.set.disable("p1");  // out of the open states: one place free
  FailOnce(f.set, "p3");
  BOOST_TEST(f.set.state("p3") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(AHalfOpenPeerHoldsItsPlaceUntilItCloses) {
  CappedFixture f(0.5);
  f.Peers(2);  // limit 1
  FailOnce(f.set, "p0");
  f.clock.advance(absl::Seconds(10));  // p0's probe is due

  {
    Context probe = f.set.context("p0");  // half-open
    FailOnce(f.set, "p1");
    BOOST_TEST(f.set.state("p1") == State::kClosed);
    probe.fail();  // open again: still its place
  }
  FailOnce(f.set, "p1");
  BOOST_TEST(f.set.state("p1") == State::kClosed);

  f.clock.advance(absl::Seconds(10));
  SucceedOnce(f.set, "p0");  // the probe closes it
  FailOnce(f.set, "p1");
  BOOST_TEST(f.set.state("p1") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(AtOneNothingIsSuppressed) {
  CappedFixture f(1);
  f.Peers(5);
  for (int i = 0; i < 5; ++i) FailOnce(f.set, "p" + std::to_string(i));
  BOOST_TEST(f.NotClosed() == 5);
}

BOOST_AUTO_TEST_CASE(SuppressedTripsAreLoggedAtMostOncePerLogInterval) {
  Captured log;
  SetOptions o = CappedFixture::FirstFailureTrips();
  o.logger = log.logger;
  o.log_interval = absl::Seconds(10);
  CappedFixture f(0.5, o);
  f.Peers(2);
  FailOnce(f.set, "p0");

  FailOnce(f.set, "p1");  // logged
  f.clock.advance(absl::Seconds(10) - absl::Nanoseconds(1));
  FailOnce(f.set, "p1");  // within the interval: counted, not logged
  f.clock.advance(absl::Nanoseconds(1));
  FailOnce(f.set, "p1");  // at the interval: logged, with the count

  std::vector<std::string> lines;
  for (const std::string& l : log.at(spdlog::level::warn)) {
    if (absl::StrContains(l, "trip suppressed")) lines.push_back(l);
  }
  BOOST_TEST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(lines[0] ==
             "circuit: peer p1 trip suppressed: 1 peers open, the limit is 1 "
             "(max_open_fraction 0.5)");
  BOOST_TEST(absl::StrContains(lines[1], "(1 earlier suppressed trips, of any peer, not logged)"),
             lines[1]);
  BOOST_TEST(SnapshotOf(f.set, "p1").suppressed_trips == 3u);
}

// Many threads fail many peers at once: exactly the limit trip, the others
// are suppressed, and at no moment are more open (nothing closes here).
BOOST_AUTO_TEST_CASE(ConcurrentTripsNeverPassTheLimit) {
  constexpr int kPeers = 200, kThreads = 8;
  CappedFixture f(0.1);  // limit 20
  f.Peers(kPeers);
  auto open_now = std::make_shared<std::atomic<int>>(0);
  auto most = std::make_shared<std::atomic<int>>(0);
  struct Watch : Listener {
    std::shared_ptr<std::atomic<int>> open, most;
    void state_change(std::string_view, State, State to) override {
      if (to != State::kOpen) return;
      int n = open->fetch_add(1) + 1;
      int m = most->load();
      while (n > m && !most->compare_exchange_weak(m, n)) {
      }
    }
  };
  auto watch = std::make_shared<Watch>();
  watch->open = open_now;
  watch->most = most;
  f.set.add_listener(watch);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < kPeers; ++i) {
          absl::StatusOr<Context> c =
              f.set.try_context("p" + std::to_string((i + t * 25) % kPeers));
          if (c.ok()) c->fail();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  BOOST_TEST(f.NotClosed() == 20);
  BOOST_TEST(most->load() == 20);
  std::uint64_t trips = 0;
  for (const PeerSnapshot& s : f.set.snapshot()) trips += s.trips;
  BOOST_TEST(trips == 20u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Outlier ejection

namespace {

// A set on ManualClock with outlier detection: five peers judged from 10
// calls, trip rules off (so only ejections open peers), a 10 s interval.
struct OutlierFixture {
  explicit OutlierFixture(OutlierOptions outlier = Defaults(),
                          SetOptions o = {})
      : set([&] {
          o.clock = &clock;
          o.defaults.max_failures = kUnlimited;
          o.defaults.reset_timeout = absl::Seconds(30);
          o.outlier = outlier;
          return o;
        }()) {
    set.add_listener(listener);
  }

  static OutlierOptions Defaults() {
    OutlierOptions o;
    o.minimum_peers = 5;
    o.minimum_calls = 10;
    o.interval = absl::Seconds(10);
    return o;
  }
  static OutlierOptions FailurePercentage(double threshold) {
    OutlierOptions o = Defaults();
    o.failure_percentage_threshold = threshold;
    return o;
  }

  // `calls` calls of `peer`, the first `failures` of them failing.
  void Calls(std::string_view peer, int calls, int failures = 0) {
    for (int i = 0; i < calls; ++i) {
      Context c = set.context(peer);
      if (i < failures) {
        c.fail();
      } else {
        c.succeed();
      }
    }
  }

  // `calls` calls of `peer`, each taking `latency`.
  void TimedCalls(std::string_view peer, int calls, absl::Duration latency) {
    for (int i = 0; i < calls; ++i) {
      Context c = set.context(peer);
      clock.advance(latency);
      c.succeed();
    }
  }

  // Four healthy peers "h0".."h3" with 10 successful calls each.
  void Healthy() {
    for (int i = 0; i < 4; ++i) Calls("h" + std::to_string(i), 10);
  }

  ManualClock clock;
  CircuitBreakerSet set;
  std::shared_ptr<RecordingListener> listener =
      std::make_shared<RecordingListener>();
};

}  // namespace

BOOST_AUTO_TEST_SUITE(OutlierEjectionTest)

BOOST_AUTO_TEST_CASE(EveryRuleOffEvaluatesToNothing) {
  OutlierFixture f(OutlierFixture::Defaults());
  f.Healthy();
  f.Calls("bad", 10, 10);

  BOOST_TEST(f.set.evaluate_outliers() == 0u);
  BOOST_TEST(f.set.state("bad") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(FailurePercentageAtTheThresholdEjectsJustBelowDoesNot) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.Healthy();
  f.Calls("at", 10, 5);
  f.Calls("below", 10, 4);

  BOOST_TEST(f.set.evaluate_outliers() == 1u);

  BOOST_TEST(f.set.state("at") == State::kOpen);
  BOOST_TEST(f.set.state("below") == State::kClosed);
  PeerSnapshot s = SnapshotOf(f.set, "at");
  BOOST_TEST(s.ejections == 1u);
  BOOST_TEST(s.trips == 1u);
}

BOOST_AUTO_TEST_CASE(MinimumPeersJustBelowJudgesNobody) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  for (int i = 0; i < 3; ++i) f.Calls("h" + std::to_string(i), 10);
  f.Calls("bad", 10, 10);  // four judged peers, five needed
  f.Calls("few", 9);       // one call short of being judged

  BOOST_TEST(f.set.evaluate_outliers() == 0u);
  BOOST_TEST(f.set.state("bad") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(MinimumPeersAtJudges) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.Healthy();
  f.Calls("bad", 10, 10);  // five judged

  BOOST_TEST(f.set.evaluate_outliers() == 1u);
  BOOST_TEST(f.set.state("bad") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(MinimumCallsJustBelowIsNotJudgedAtIs) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.Healthy();
  f.Calls("nine", 9, 9);
  f.Calls("ten", 10, 10);

  BOOST_TEST(f.set.evaluate_outliers() == 1u);
  BOOST_TEST(f.set.state("nine") == State::kClosed);
  BOOST_TEST(f.set.state("ten") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(IgnoredOutcomesAreNotCalls) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.Healthy();
  f.Calls("bad", 9, 9);
  f.set.context("bad").ignore();  // still nine calls

  BOOST_TEST(f.set.evaluate_outliers() == 0u);
}

BOOST_AUTO_TEST_CASE(OnlyCallsSinceThePreviousEvaluationCount) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.Healthy();
  f.Calls("bad", 5, 5);
  BOOST_TEST(f.set.evaluate_outliers() == 0u);  // five calls: not judged

  f.Healthy();
  f.Calls("bad", 10, 4);  // 40% since then, though 60% over both

  BOOST_TEST(f.set.evaluate_outliers() == 0u);
  BOOST_TEST(f.set.state("bad") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(SuccessRateWellBelowTheOthersIsEjected) {
  OutlierOptions o = OutlierFixture::Defaults();
  o.success_rate_stdev_factor = 1.9;
  OutlierFixture f(o);
  f.Healthy();
  f.Calls("bad", 10, 5);  // rates 1, 1, 1, 1, 0.5: floor 0.52

  f.listener->clear();  // only what the evaluation reports
  BOOST_TEST(f.set.evaluate_outliers() == 1u);
  BOOST_TEST(f.set.state("bad") == State::kOpen);
  BOOST_TEST(f.listener->events().front() ==
             "ejected bad: success rate 50% below 52% (mean 90% - 1.9 x "
             "stdev 20%) across 5 peers");
}

BOOST_AUTO_TEST_CASE(IdenticalSuccessRatesEjectNobody) {
  OutlierOptions o = OutlierFixture::Defaults();
  o.success_rate_stdev_factor = 0.01;
  OutlierFixture f(o);
  for (int i = 0; i < 6; ++i) f.Calls("p" + std::to_string(i), 10, 1);

  BOOST_TEST(f.set.evaluate_outliers() == 0u);
}

BOOST_AUTO_TEST_CASE(LatencyAboveFactorTimesTheMedianIsEjectedAtItIsNot) {
  OutlierOptions o = OutlierFixture::Defaults();
  o.latency_factor = 3;
  OutlierFixture f(o);
  for (int i = 0; i < 4; ++i) {
    f.TimedCalls("fast" + std::to_string(i), 10, absl::Milliseconds(10));
  }
  f.TimedCalls("at", 10, absl::Milliseconds(30));
  f.TimedCalls("above", 10, absl::Milliseconds(30) + absl::Nanoseconds(1));

  f.listener->clear();  // only what the evaluation reports
  BOOST_TEST(f.set.evaluate_outliers() == 1u);

  BOOST_TEST(f.set.state("at") == State::kClosed);
  BOOST_TEST(f.set.state("above") == State::kOpen);
  BOOST_TEST(f.listener->events().front() ==
             "ejected above: median latency 30.000001ms vs 10ms across 6 peers");
}

BOOST_AUTO_TEST_CASE(TheLatencyMedianIsOverTheNewest64Calls) {
  OutlierOptions o = OutlierFixture::Defaults();
  o.latency_factor = 2;
  o.interval = absl::Hours(1);  // only the evaluation below
  OutlierFixture f(o);
  for (int i = 0; i < 4; ++i) {
    f.TimedCalls("fast" + std::to_string(i), 10, absl::Milliseconds(10));
  }
  // 100 slow calls, then 64 fast ones: only the fast ones are kept.
  f.TimedCalls("recovered", 100, absl::Milliseconds(100));
  f.TimedCalls("recovered", 64, absl::Milliseconds(10));

  BOOST_TEST(f.set.evaluate_outliers() == 0u);
}

BOOST_AUTO_TEST_CASE(DetectOnlyCountsAndReportsButEjectsNothing) {
  OutlierOptions o = OutlierFixture::FailurePercentage(0.5);
  o.enforce = false;
  OutlierFixture f(o);
  f.Healthy();
  f.Calls("bad", 10, 10);

  f.listener->clear();  // only what the evaluation reports
  BOOST_TEST(f.set.evaluate_outliers() == 1u);

  BOOST_TEST(f.set.state("bad") == State::kClosed);
  BOOST_TEST(SnapshotOf(f.set, "bad").ejections == 1u);
  BOOST_TEST(SnapshotOf(f.set, "bad").trips == 0u);
  BOOST_TEST(f.listener->events() ==
                 std::vector<std::string>{
                     "ejected bad: would eject: failure percentage 100% (10 "
                     "of 10 calls) at or above 50%"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(AnEjectionIsATripWithItsOpenPeriodAndProbes) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.Healthy();
  f.Calls("bad", 10, 10);
  f.listener->clear();  // only what the evaluation reports
  f.set.evaluate_outliers();

  BOOST_TEST(f.listener->events() ==
                 (std::vector<std::string>{
                     "ejected bad: failure percentage 100% (10 of 10 calls) "
                     "at or above 50%",
                     "state_change bad closed->open"}),
             boost::test_tools::per_element());
  f.clock.advance(absl::Seconds(30) - absl::Nanoseconds(1));
  BOOST_TEST(!Admits(f.set, "bad"));
  f.clock.advance(absl::Nanoseconds(1));
  SucceedOnce(f.set, "bad");  // the probe closes it
  BOOST_TEST(f.set.state("bad") == State::kClosed);
  BOOST_TEST(SnapshotOf(f.set, "bad").trips_in_a_row == 1);
}

BOOST_AUTO_TEST_CASE(OnlyClosedPeersAreEjected) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.Healthy();
  f.Calls("bad", 10, 10);
  f.set.disable("bad");

  BOOST_TEST(f.set.evaluate_outliers() == 0u);
  BOOST_TEST(f.set.state("bad") == State::kDisabled);
}

BOOST_AUTO_TEST_CASE(EjectionsObeyMaxOpenFraction) {
  SetOptions so;
  so.max_open_fraction = 0.2;  // 6 peers: limit 1
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5), so);
  f.Healthy();
  f.Calls("bad1", 10, 10);
  f.Calls("bad2", 10, 10);

  BOOST_TEST(f.set.evaluate_outliers() == 1u);

  // One of the two (in the table's order) is ejected; the other's trip is
  // suppressed.
  PeerSnapshot one = SnapshotOf(f.set, "bad1"), two = SnapshotOf(f.set, "bad2");
  const PeerSnapshot& ejected = one.state == State::kOpen ? one : two;
  const PeerSnapshot& kept = one.state == State::kOpen ? two : one;
  BOOST_TEST(ejected.state == State::kOpen);
  BOOST_TEST(ejected.ejections == 1u);
  BOOST_TEST(kept.state == State::kClosed);
  BOOST_TEST(kept.suppressed_trips == 1u);
  BOOST_TEST(kept.ejections == 0u);
  BOOST_TEST(f.listener->events().back() == "trip_suppressed " + kept.peer);
}

// The evaluation runs by itself on the first counted failure at or past
// one interval after the previous evaluation (here: the set's start).
BOOST_AUTO_TEST_CASE(AFailureJustBeforeTheIntervalDoesNotEvaluateAtItDoes) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.Healthy();
  f.Calls("bad", 9, 9);

  f.clock.set(absl::UnixEpoch() + absl::Seconds(10) - absl::Nanoseconds(1));
  f.Calls("bad", 1, 1);
  BOOST_TEST(f.set.state("bad") == State::kClosed);

  f.clock.set(absl::UnixEpoch() + absl::Seconds(10));
  f.Calls("bad", 1, 1);
  BOOST_TEST(f.set.state("bad") == State::kOpen);
  BOOST_TEST(SnapshotOf(f.set, "bad").ejections == 1u);
}

BOOST_AUTO_TEST_CASE(TheNextEvaluationIsDueOneIntervalAfterThePrevious) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.clock.advance(absl::Seconds(3));
  f.set.evaluate_outliers();  // next due at 13 s
  f.Healthy();
  f.Calls("bad", 9, 9);

  f.clock.set(absl::UnixEpoch() + absl::Seconds(13) - absl::Nanoseconds(1));
  f.Calls("bad", 1, 1);
  BOOST_TEST(f.set.state("bad") == State::kClosed);
  f.clock.set(absl::UnixEpoch() + absl::Seconds(13));
  f.Calls("bad", 1, 1);
  BOOST_TEST(f.set.state("bad") == State::kOpen);
}

// A closed success of an untimed call reads no clock, so it never runs the
// evaluation, however late.
BOOST_AUTO_TEST_CASE(SuccessesAloneDoNotEvaluate) {
  OutlierFixture f(OutlierFixture::FailurePercentage(0.5));
  f.Healthy();
  f.Calls("bad", 10, 10);

  f.clock.advance(absl::Hours(1));
  f.Healthy();

  BOOST_TEST(f.set.state("bad") == State::kClosed);
  BOOST_TEST(f.set.evaluate_outliers() == 1u);  // the calls were kept
}

// With the latency rule on, every call is timed: a success evaluates.
BOOST_AUTO_TEST_CASE(ATimedSuccessEvaluatesWhenDue) {
  OutlierOptions o = OutlierFixture::Defaults();
  o.latency_factor = 2;
  OutlierFixture f(o);
  for (int i = 0; i < 4; ++i) {
    f.TimedCalls("fast" + std::to_string(i), 10, absl::Milliseconds(1));
  }
  f.TimedCalls("slow", 10, absl::Milliseconds(5));
  BOOST_TEST(f.set.state("slow") == State::kClosed);  // not due yet

  f.clock.set(absl::UnixEpoch() + absl::Seconds(10));
  f.TimedCalls("fast0", 1, absl::ZeroDuration());

  BOOST_TEST(f.set.state("slow") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(EjectionsAreLoggedNamingThePeerAndTheReason) {
  Captured log;
  SetOptions so;
  so.logger = log.logger;
  OutlierOptions o = OutlierFixture::Defaults();
  o.latency_factor = 3;
  OutlierFixture f(o, so);
  for (int i = 0; i < 6; ++i) {
    f.TimedCalls("node-" + std::to_string(i), 10, absl::Milliseconds(9));
  }
  f.TimedCalls("node-7", 10, absl::Milliseconds(48));

  f.set.evaluate_outliers();

  std::vector<std::string> warn = log.at(spdlog::level::warn);
  BOOST_TEST_REQUIRE(!warn.empty());
  BOOST_TEST(warn.front() ==
             "circuit: peer node-7 ejected: median latency 48ms vs 9ms across 7 peers");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// The bulkhead

namespace {

struct BulkheadFixture : ManualSetFixture {
  explicit BulkheadFixture(int limit = 2)
      : ManualSetFixture([&] {
          SetOptions o;
          o.defaults.max_failures = 0;
          o.defaults.max_concurrent_calls = limit;
          return o;
        }()) {}
};

absl::Status StatusCall(CircuitBreakerSet& set, std::string_view peer) {
  return set.call(peer, [] { return absl::OkStatus(); });
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(BulkheadTest, BulkheadFixture)

BOOST_AUTO_TEST_CASE(OneBelowTheLimitIsAdmittedAtTheLimitRefused) {
  Context first = set.context("db");
  BOOST_TEST(SnapshotOf(set, "db").in_flight == 1);
  Context second = set.context("db");  // the limit'th
  BOOST_TEST(SnapshotOf(set, "db").in_flight == 2);

  BOOST_CHECK_EXCEPTION(
      set.context("db"), ConcurrencyLimitError,
      [](const ConcurrencyLimitError& e) {
        return e.peer() == "db" && e.limit() == 2 &&
               std::string(e.what()) ==
                   "concurrency limit reached for peer 'db': 2 calls in "
                   "flight (max_concurrent_calls)";
      });
  first.succeed();
  BOOST_TEST(SnapshotOf(set, "db").in_flight == 1);
  Context third = set.context("db");  // a slot again
  BOOST_TEST(SnapshotOf(set, "db").in_flight == 2);
}

BOOST_AUTO_TEST_CASE(EveryFormReportsTheRefusalItsOwnWay) {
  Context a = set.context("db"), b = set.context("db");

  absl::StatusOr<Context> tried = set.try_context("db");
  BOOST_TEST(tried.status().code() == absl::StatusCode::kResourceExhausted);
  BOOST_TEST(absl::StrContains(tried.status().message(), "'db'"));

  absl::Status called = StatusCall(set, "db");
  BOOST_TEST(called.code() == absl::StatusCode::kResourceExhausted);

  BOOST_CHECK_THROW(set.call("db", [] {}), ConcurrencyLimitError);
  BOOST_TEST(set.call("db", [] { return 1; }, [](const RejectedError&) { return 2; }) == 2);
  BOOST_TEST(set.call("db", [] { return 1; }, [] { return 3; }) == 3);
  // A fallback for open circuits only is not one for a full bulkhead.
  BOOST_CHECK_THROW(
      set.call("db", [] { return 1; }, [](const CircuitOpenError&) { return 4; }),
      ConcurrencyLimitError);
  BOOST_TEST(set.call("db", [] { return absl::OkStatus(); },
                      [](const CircuitOpenError&) { return absl::OkStatus(); })
                 .code() == absl::StatusCode::kResourceExhausted);

  PeerHandle h = set.handle("db");
  BOOST_CHECK_THROW(h.context(), ConcurrencyLimitError);
  BOOST_TEST(h.try_context().status().code() == absl::StatusCode::kResourceExhausted);
  BOOST_TEST(!set.would_admit("db"));
  BOOST_TEST(!h.would_admit());
}

BOOST_AUTO_TEST_CASE(OneHandlerCatchesEveryRefusal) {
  Context a = set.context("db"), b = set.context("db");
  set.open("down");
  int caught = 0;
  for (std::string_view peer : {"db", "down"}) {
    try {
      Context c = set.context(peer);
    } catch (const RejectedError& e) {
      caught += e.peer() == peer;
    }
  }
  BOOST_TEST(caught == 2);
}

BOOST_AUTO_TEST_CASE(ARefusalIsNotAFailureAndNeverTrips) {
  Context a = set.context("db"), b = set.context("db");

  for (int i = 0; i < 100; ++i) BOOST_TEST(!set.try_context("db").ok());

  PeerSnapshot s = SnapshotOf(set, "db");
  BOOST_TEST(s.state == State::kClosed);
  BOOST_TEST(s.failures == 0u);
  BOOST_TEST(s.trips == 0u);
  BOOST_TEST(s.rejections == 100u);
}

BOOST_AUTO_TEST_CASE(ARejectionOfAnOpenPeerTakesNoSlot) {
  set.open("db");
  BOOST_CHECK_THROW(set.context("db"), CircuitOpenError);
  BOOST_TEST(SnapshotOf(set, "db").in_flight == 0);
}

BOOST_AUTO_TEST_CASE(ProbesTakeSlotsToo) {
  set.configure("db", [] {
    BreakerOptions o;
    o.max_failures = 0;
    o.max_concurrent_calls = 1;
    o.half_open_max_calls = 5;
    o.reset_timeout = absl::Seconds(1);
    return o;
  }());
  FailOnce(set, "db");
  clock.advance(absl::Seconds(1));

  Context probe = set.context("db");
  BOOST_TEST(probe.probe());
  BOOST_CHECK_THROW(set.context("db"), ConcurrencyLimitError);
  probe.succeed();
  BOOST_TEST(set.state("db") == State::kClosed);
  BOOST_TEST(SnapshotOf(set, "db").in_flight == 0);
}

// A call that took a slot gives it back even when the bulkhead was turned
// off in the meantime, and one admitted without a slot takes none back.
BOOST_AUTO_TEST_CASE(SlotsSurviveReconfiguration) {
  BreakerOptions off;
  off.max_failures = 0;
  BreakerOptions one = off;
  one.max_concurrent_calls = 1;

  Context with_slot = set.context("db");
  set.configure("db", off);
  Context without_slot = set.context("db");
  with_slot.succeed();  // the inline settle must not take it
  set.configure("db", one);
  without_slot.succeed();

  BOOST_TEST(SnapshotOf(set, "db").in_flight == 0);
  Context again = set.context("db");
  BOOST_CHECK_THROW(set.context("db"), ConcurrencyLimitError);
}

BOOST_AUTO_TEST_CASE(MovedAndFailedContextsGiveTheirSlotBack) {
  {
    Context a = set.context("db");
    Context moved = std::move(a);
    moved.fail();  // trips the breaker (max_failures 0)
  }
  BOOST_TEST(SnapshotOf(set, "db").in_flight == 0);
  set.close("db");
  {
    Context b = set.context("db");
    b.ignore();
  }
  BOOST_TEST(SnapshotOf(set, "db").in_flight == 0);
}

// Four threads against a bulkhead of three: never more than three inside,
// and every admitted call is counted once.
BOOST_AUTO_TEST_CASE(ThreadsNeverHaveMoreThanTheLimitInside) {
  constexpr int kThreads = 4, kCalls = 5000, kLimit = 3;
  BreakerOptions o;
  o.max_concurrent_calls = kLimit;
  set.configure("db", o);
  std::atomic<int> inside{0}, most{0}, admitted{0}, refused{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        absl::StatusOr<Context> c = set.try_context("db");
        if (!c.ok()) {
          ++refused;
          continue;
        }
        int n = inside.fetch_add(1) + 1;
        int m = most.load();
        while (n > m && !most.compare_exchange_weak(m, n)) {
        }
        std::this_thread::yield();
        inside.fetch_sub(1);
        ++admitted;
        c->succeed();
      }
    });
  }
  for (std::thread& t : threads) t.join();

  BOOST_TEST(most.load() <= kLimit);
  BOOST_TEST(admitted.load() + refused.load() == kThreads * kCalls);
  PeerSnapshot s = SnapshotOf(set, "db");
  BOOST_TEST(s.in_flight == 0);
  BOOST_TEST(s.successes == static_cast<std::uint64_t>(admitted.load()));
  BOOST_TEST(s.rejections == static_cast<std::uint64_t>(refused.load()));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
