// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Keeping the set under SetOptions::max_peers: the least recently used idle
// closed peer goes first; open and half-open peers are never dropped.

#include <string>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

// At most `max_peers` peers, each opened by its first failure.
SetOptions Capped(const Clock* clock, std::size_t max_peers) {
  SetOptions o = ManualOptions(clock, /*max_failures=*/0);
  o.max_peers = max_peers;
  return o;
}

struct EvictionFixture : ManualSetFixture {
  EvictionFixture() : ManualSetFixture(Capped(nullptr, 3)) {}
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(EvictionTest, EvictionFixture)

BOOST_DATA_TEST_CASE(SizeNeverExceedsMaxPeersWhileEveryPeerIsClosed,
                     bdata::make({1, 2, 10, 100}), cap) {
  ManualClock own_clock;
  CircuitBreakerSet s(Capped(&own_clock, static_cast<std::size_t>(cap)));

  for (int i = 0; i < 3 * cap + 5; ++i) {
    SucceedOnce(s, "peer-" + std::to_string(i));
    BOOST_TEST(s.size() <= static_cast<std::size_t>(cap));
  }

  BOOST_TEST(s.size() == static_cast<std::size_t>(cap));
}

BOOST_AUTO_TEST_CASE(LeastRecentlyCreatedGoesFirstWhenNoneWasUsedAgain) {
  SucceedOnce(set, "a");
  SucceedOnce(set, "b");
  SucceedOnce(set, "c");

  SucceedOnce(set, "d");

  BOOST_TEST(!Tracked(set, "a"));
  BOOST_TEST(Tracked(set, "b"));
  BOOST_TEST(Tracked(set, "c"));
  BOOST_TEST(Tracked(set, "d"));
}

BOOST_AUTO_TEST_CASE(UsingAPeerMakesItRecent) {
  SucceedOnce(set, "a");
  SucceedOnce(set, "b");
  SucceedOnce(set, "c");
  SucceedOnce(set, "a");

  SucceedOnce(set, "d");

  BOOST_TEST(Tracked(set, "a"));
  BOOST_TEST(!Tracked(set, "b"));
  BOOST_TEST(Tracked(set, "c"));
}

BOOST_DATA_TEST_CASE(PeerUsedAfterTheNewestWasCreatedOutlivesIt,
                     bdata::make({2, 3, 4, 8}), cap) {
  ManualClock own_clock;
  CircuitBreakerSet s(Capped(&own_clock, static_cast<std::size_t>(cap)));
  for (int i = 0; i < cap; ++i) SucceedOnce(s, "p" + std::to_string(i));
  SucceedOnce(s, "p0");  // now the most recently used

  SucceedOnce(s, "new");

  BOOST_TEST(Tracked(s, "p0"));
  BOOST_TEST(!Tracked(s, "p1"));
}

BOOST_AUTO_TEST_CASE(UsingTheOldestPeerRightAfterTheNewestMakesItRecent) {
  SucceedOnce(set, "a");
  SucceedOnce(set, "b");
  SucceedOnce(set, "c");
  SucceedOnce(set, "b");
  SucceedOnce(set, "a");

  SucceedOnce(set, "d");

  BOOST_TEST(Tracked(set, "a"));
  BOOST_TEST(Tracked(set, "b"));
  BOOST_TEST(!Tracked(set, "c"));
}

BOOST_AUTO_TEST_CASE(RepeatedChurnKeepsTheHotPeer) {
  SucceedOnce(set, "hot");

  for (int i = 0; i < 50; ++i) {
    SucceedOnce(set, "cold-" + std::to_string(i));
    SucceedOnce(set, "hot");
  }

  BOOST_TEST(Tracked(set, "hot"));
  BOOST_TEST(set.size() == 3u);
}

BOOST_AUTO_TEST_CASE(OpenPeersAreNeverEvicted) {
  FailOnce(set, "a");
  FailOnce(set, "b");
  FailOnce(set, "c");

  SucceedOnce(set, "d");
  SucceedOnce(set, "e");

  BOOST_TEST(set.state("a") == State::kOpen);
  BOOST_TEST(set.state("b") == State::kOpen);
  BOOST_TEST(set.state("c") == State::kOpen);
  BOOST_TEST(set.size() == 4u);  // past the cap rather than forget them
  BOOST_TEST(!Tracked(set, "d"));
}

BOOST_AUTO_TEST_CASE(NewPeerIsKeptWhenNoOtherPeerCanGo) {
  FailOnce(set, "a");
  FailOnce(set, "b");
  FailOnce(set, "c");

  FailOnce(set, "d");  // over the cap, and every other peer is open

  BOOST_TEST(set.state("d") == State::kOpen);
  BOOST_TEST(set.size() == 4u);
}

BOOST_AUTO_TEST_CASE(HalfOpenPeersAreNeverEvicted) {
  FailOnce(set, "a");
  clock.advance(absl::Seconds(10));
  Context probe = set.context("a");  // half-open, probe in flight
  BOOST_REQUIRE(set.state("a") == State::kHalfOpen);

  for (int i = 0; i < 10; ++i) SucceedOnce(set, "x" + std::to_string(i));

  BOOST_TEST(Tracked(set, "a"));
  probe.succeed();
  BOOST_TEST(set.state("a") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(OpenPeerPastItsTimeoutIsStillNotEvicted) {
  FailOnce(set, "a");
  clock.advance(absl::Seconds(60));  // reads half-open, nobody probed yet

  for (int i = 0; i < 10; ++i) SucceedOnce(set, "x" + std::to_string(i));

  BOOST_TEST(Tracked(set, "a"));
  BOOST_TEST(set.state("a") == State::kHalfOpen);
}

BOOST_AUTO_TEST_CASE(PeerThatClosesAgainBecomesEvictable) {
  FailOnce(set, "a");
  set.close("a");

  for (int i = 0; i < 10; ++i) SucceedOnce(set, "x" + std::to_string(i));

  BOOST_TEST(!Tracked(set, "a"));
  BOOST_TEST(set.size() == 3u);
}

BOOST_AUTO_TEST_CASE(EvictedPeerComesBackClosedWithNoHistory) {
  SetOptions o = Capped(&clock, 1);
  o.defaults.max_failures = 1;
  CircuitBreakerSet s(o);
  FailOnce(s, "a");
  SucceedOnce(s, "b");  // evicts a and its failure

  FailOnce(s, "a");

  BOOST_TEST(s.state("a") == State::kClosed);
  BOOST_TEST(s.snapshot("a")->failures == 1u);
}

BOOST_AUTO_TEST_CASE(ContextOfAnEvictedPeerSettlesSafely) {
  CircuitBreakerSet s(Capped(&clock, 1));
  Context slow = s.context("a");
  SucceedOnce(s, "b");  // a is closed and may go

  slow.fail();  // lands on the dropped breaker

  BOOST_TEST(s.size() == 1u);
}

BOOST_AUTO_TEST_CASE(HandledPeersAreNeverEvicted) {
  PeerHandle h = set.handle("a");

  for (int i = 0; i < 10; ++i) SucceedOnce(set, "x" + std::to_string(i));

  BOOST_TEST(Tracked(set, "a"));
  BOOST_TEST(h.state() == State::kClosed);
}

BOOST_AUTO_TEST_CASE(StateQueriesDoNotCreatePeersNorMakeThemRecent) {
  SucceedOnce(set, "a");
  SucceedOnce(set, "b");
  SucceedOnce(set, "c");
  (void)set.state("a");
  (void)set.state("unknown");

  SucceedOnce(set, "d");

  BOOST_TEST(!Tracked(set, "a"));
  BOOST_TEST(!Tracked(set, "unknown"));
}

BOOST_AUTO_TEST_CASE(UnboundedSetKeepsEveryPeer) {
  CircuitBreakerSet s(ManualOptions(&clock));

  for (int i = 0; i < 1000; ++i) SucceedOnce(s, "p" + std::to_string(i));

  BOOST_TEST(s.size() == 1000u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
