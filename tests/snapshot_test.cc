// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// `snapshot(peer)` and `snapshot()`: every `PeerSnapshot` field, read on a
// ManualClock as a breaker moves through its states.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

// A set with the defaults: 3 failures within 60 s, reset 10 s.
struct Fixture : ManualSetFixture {
  PeerSnapshot Snap(std::string_view peer) { return SnapshotOf(set, peer); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(SnapshotTest, Fixture)

BOOST_AUTO_TEST_CASE(AnUnknownPeerHasNone) {
  BOOST_TEST(!set.snapshot("nobody").has_value());
  BOOST_TEST(set.snapshot().empty());
  BOOST_TEST(set.size() == 0u);  // looking did not create it
}

BOOST_AUTO_TEST_CASE(ABadPeerIdHasNone) {
  BOOST_TEST(!set.snapshot("").has_value());
}

BOOST_AUTO_TEST_CASE(AFreshPeer) {
  set.context("p").succeed();

  PeerSnapshot s = Snap("p");

  BOOST_TEST(s.peer == "p");
  BOOST_TEST(s.state == State::kClosed);
  BOOST_TEST(s.failures_in_window == 0);
  BOOST_TEST(s.consecutive_failures == 0);
  BOOST_TEST(s.calls == 1u);
  BOOST_TEST(s.successes == 1u);
  BOOST_TEST(s.failures == 0u);
  BOOST_TEST(s.ignored == 0u);
  BOOST_TEST(s.rejections == 0u);
  BOOST_TEST(s.trips == 0u);
  BOOST_TEST(s.trips_in_a_row == 0);
  BOOST_TEST(s.open_until == absl::InfinitePast());
  BOOST_TEST(s.probes_in_flight == 0);
}

BOOST_AUTO_TEST_CASE(CallsCountEveryRecordedOutcome) {
  set.context("p").succeed();
  set.context("p").fail();
  set.context("p").ignore();
  Context in_flight = set.context("p");  // not counted yet

  PeerSnapshot s = Snap("p");

  BOOST_TEST(s.calls == 3u);
  BOOST_TEST(s.successes == 1u);
  BOOST_TEST(s.failures == 1u);
  BOOST_TEST(s.ignored == 1u);
}

BOOST_AUTO_TEST_CASE(ConsecutiveFailuresIsTheCurrentRun) {
  set.context("p").fail();
  set.context("p").succeed();
  set.context("p").fail();
  set.context("p").fail();

  BOOST_TEST(Snap("p").consecutive_failures == 2);
  BOOST_TEST(Snap("p").failures == 3u);
}

// Failures at 0, 1 and 2 s; the window is (now - 60 s, now].
BOOST_DATA_TEST_CASE_F(Fixture, FailuresInWindowSlideOut,
                       bdata::make({absl::Seconds(2), absl::Seconds(60) -
                                                          absl::Nanoseconds(1),
                                    absl::Seconds(60), absl::Seconds(61),
                                    absl::Seconds(62)}) ^
                           bdata::make({3, 3, 2, 1, 0}),
                       now, expected) {
  for (int i = 0; i < 3; ++i) {
    set.context("p").fail();
    if (i < 2) clock.advance(absl::Seconds(1));
  }

  clock.set(absl::UnixEpoch() + now);

  BOOST_TEST(Snap("p").failures_in_window == expected);
  BOOST_TEST(Snap("p").failures == 3u);  // the total never falls
}

BOOST_AUTO_TEST_CASE(AnOpenPeer) {
  for (int i = 0; i < 4; ++i) set.context("p").fail();
  (void)set.try_context("p");
  (void)set.try_context("p");

  PeerSnapshot s = Snap("p");

  BOOST_TEST(s.state == State::kOpen);
  BOOST_TEST(s.open_until == clock.now() + absl::Seconds(10));
  BOOST_TEST(s.trips == 1u);
  BOOST_TEST(s.trips_in_a_row == 1);
  BOOST_TEST(s.rejections == 2u);
  BOOST_TEST(s.calls == 4u);
}

BOOST_AUTO_TEST_CASE(FailuresInWindowCountsUpToTheTrip) {
  for (int i = 0; i < 3; ++i) set.context("p").fail();

  BOOST_TEST(Snap("p").failures_in_window == 3);
  BOOST_TEST(Snap("p").state == State::kClosed);
}

BOOST_DATA_TEST_CASE_F(Fixture, AnOpenPeerReadsHalfOpenAtItsOpenUntil,
                       bdata::make({absl::Seconds(10) - absl::Nanoseconds(1),
                                    absl::Seconds(10)}) ^
                           bdata::make({State::kOpen, State::kHalfOpen}),
                       wait, expected) {
  set.open("p");

  clock.advance(wait);

  BOOST_TEST(Snap("p").state == expected);
  BOOST_TEST(set.state("p") == expected);
}

BOOST_AUTO_TEST_CASE(AProbeInFlight) {
  set.open("p");
  clock.advance(absl::Seconds(10));

  Context probe = set.context("p");

  BOOST_TEST(Snap("p").state == State::kHalfOpen);
  BOOST_TEST(Snap("p").probes_in_flight == 1);
  probe.ignore();
  BOOST_TEST(Snap("p").probes_in_flight == 0);
}

BOOST_AUTO_TEST_CASE(TripsCountEveryOpening) {
  for (int i = 0; i < 4; ++i) set.context("p").fail();
  clock.advance(absl::Seconds(10));
  set.context("p").fail();  // the probe fails: a second trip

  BOOST_TEST(Snap("p").trips == 2u);
  BOOST_TEST(Snap("p").trips_in_a_row == 2);
  BOOST_TEST(Snap("p").open_until == clock.now() + absl::Seconds(10));
}

BOOST_AUTO_TEST_CASE(ForcedAndDisabledStates) {
  set.force_open("f");
  set.disable("d");
  (void)set.try_context("f");

  BOOST_TEST(Snap("f").state == State::kForcedOpen);
  BOOST_TEST(Snap("f").rejections == 1u);
  BOOST_TEST(Snap("d").state == State::kDisabled);
}

BOOST_AUTO_TEST_CASE(CloseClearsTheHistoryButNotTheTotals) {
  for (int i = 0; i < 4; ++i) set.context("p").fail();

  set.close("p");

  PeerSnapshot s = Snap("p");
  BOOST_TEST(s.state == State::kClosed);
  BOOST_TEST(s.failures_in_window == 0);
  BOOST_TEST(s.consecutive_failures == 0);
  BOOST_TEST(s.trips_in_a_row == 0);
  BOOST_TEST(s.failures == 4u);
  BOOST_TEST(s.trips == 1u);
  BOOST_TEST(s.open_until == absl::InfinitePast());
}

BOOST_AUTO_TEST_CASE(AllPeersAreListedOnce) {
  set.context("a").succeed();
  set.context("b").fail();
  set.open("c");

  std::vector<PeerSnapshot> all = set.snapshot();

  std::map<std::string, PeerSnapshot> by_peer;
  for (const PeerSnapshot& s : all) by_peer.emplace(s.peer, s);
  BOOST_TEST(all.size() == 3u);
  BOOST_TEST(by_peer.size() == 3u);
  BOOST_TEST(by_peer["a"].successes == 1u);
  BOOST_TEST(by_peer["b"].failures == 1u);
  BOOST_TEST(by_peer["c"].state == State::kOpen);
}

BOOST_AUTO_TEST_CASE(AllPeersAgreeWithEachPeer) {
  for (int i = 0; i < 50; ++i) {
    std::string peer = "peer-" + std::to_string(i);
    set.context(peer).succeed();
    for (int k = 0; k < i % 5; ++k) set.context(peer).fail();
  }

  for (const PeerSnapshot& s : set.snapshot()) {
    PeerSnapshot one = Snap(s.peer);
    BOOST_TEST(one.failures == s.failures);
    BOOST_TEST(one.state == s.state);
  }
  BOOST_TEST(set.snapshot().size() == 50u);
}

BOOST_AUTO_TEST_CASE(LateOutcomesAreCountedButMoveNothing) {
  Context slow = set.context("p");
  set.open("p");

  slow.fail();

  BOOST_TEST(Snap("p").failures == 1u);
  BOOST_TEST(Snap("p").failures_in_window == 0);
  BOOST_TEST(Snap("p").trips == 1u);  // the manual open only
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
