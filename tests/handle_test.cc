// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// `PeerHandle`: a copyable handle to one peer's breaker that skips the
// lookup, and keeps its peer from being dropped by `max_peers` or by idle
// sweeps for as long as any copy of it exists.

#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"

namespace {

using circuit::CircuitBreakerSet;
using circuit::ManualClock;
using circuit::PeerHandle;
using circuit::SetOptions;
using circuit::State;

struct Fixture {
  ManualClock clock;
  CircuitBreakerSet set{[this] {
    SetOptions options;
    options.clock = &clock;
    return options;
  }()};
};

// A set that tracks at most one peer.
struct CappedFixture {
  ManualClock clock;
  CircuitBreakerSet set{[this] {
    SetOptions options;
    options.clock = &clock;
    options.max_peers = 1;
    return options;
  }()};
};

// A set that drops peers idle for a minute.
struct IdleFixture {
  static constexpr absl::Duration kIdle = absl::Seconds(60);
  ManualClock clock;
  CircuitBreakerSet set{[this] {
    SetOptions options;
    options.clock = &clock;
    options.idle_timeout = kIdle;
    return options;
  }()};

  // Lets every peer not used from now on go idle, sweeping as it goes.
  void IdleOut() {
    for (int i = 0; i < 20; ++i) {
      set.sweep();
      clock.advance(kIdle / 8);
    }
    set.sweep();
  }
};

bool Tracked(const CircuitBreakerSet& set, std::string_view peer) {
  return set.snapshot(peer).has_value();
}

}  // namespace

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(PeerHandleTest, Fixture)

BOOST_AUTO_TEST_CASE(CreatesThePeer) {
  PeerHandle h = set.handle("p");

  BOOST_TEST(static_cast<bool>(h));
  BOOST_TEST(h.peer() == "p");
  BOOST_TEST(set.size() == 1u);
  BOOST_TEST(h.state() == State::kClosed);
}

BOOST_AUTO_TEST_CASE(ADefaultHandleIsEmpty) {
  PeerHandle h;

  BOOST_TEST(!static_cast<bool>(h));
  BOOST_TEST(h.peer().empty());
}

BOOST_AUTO_TEST_CASE(SharesTheBreakerWithTheSet) {
  PeerHandle h = set.handle("p");

  for (int i = 0; i < 4; ++i) h.context().fail();

  BOOST_TEST(set.state("p") == State::kOpen);
  BOOST_TEST(h.state() == State::kOpen);
  BOOST_TEST(set.snapshot("p")->failures == 4u);
}

BOOST_AUTO_TEST_CASE(SeesWhatTheSetDoes) {
  PeerHandle h = set.handle("p");

  set.force_open("p");

  BOOST_TEST(h.state() == State::kForcedOpen);
  BOOST_CHECK_EXCEPTION(h.context(), circuit::CircuitOpenError,
                        [](const circuit::CircuitOpenError& e) {
                          return e.peer() == "p" &&
                                 e.retry_after() == absl::InfiniteDuration();
                        });
}

BOOST_AUTO_TEST_CASE(TryContextReportsRejectionAsUnavailable) {
  PeerHandle h = set.handle("p");
  set.open("p");

  absl::StatusOr<circuit::Context> ctx = h.try_context();

  BOOST_TEST(absl::IsUnavailable(ctx.status()));
  BOOST_TEST(absl::StrContains(ctx.status().message(), "p"));
  BOOST_TEST(set.snapshot("p")->rejections == 1u);
}

BOOST_AUTO_TEST_CASE(ProbesThroughTheHandle) {
  PeerHandle h = set.handle("p");
  set.open("p");
  clock.advance(absl::Seconds(10));

  circuit::Context probe = h.context();
  BOOST_TEST(probe.probe());
  BOOST_TEST(!h.try_context().ok());  // the only probe slot is taken
  probe.succeed();

  BOOST_TEST(h.state() == State::kClosed);
}

BOOST_AUTO_TEST_CASE(CopiesShareThePeer) {
  PeerHandle a = set.handle("p");
  PeerHandle b = a;
  PeerHandle c;
  c = b;

  a.context().fail();
  b.context().fail();
  c.context().fail();

  BOOST_TEST(set.snapshot("p")->failures == 3u);
  BOOST_TEST(c.peer() == "p");
}

BOOST_AUTO_TEST_CASE(AMovedFromHandleIsEmpty) {
  PeerHandle a = set.handle("p");

  PeerHandle b = std::move(a);

  BOOST_TEST(!static_cast<bool>(a));
  BOOST_TEST(b.peer() == "p");
}

BOOST_AUTO_TEST_CASE(SelfAssignmentKeepsTheHandle) {
  PeerHandle a = set.handle("p");
  PeerHandle& alias = a;

  a = alias;

  BOOST_TEST(a.peer() == "p");
  BOOST_TEST(a.try_context().ok());
}

BOOST_AUTO_TEST_CASE(ABadPeerIdIsRefused) {
  BOOST_CHECK_THROW(set.handle(""), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(TwoHandlesToOnePeerAreOneEntry) {
  PeerHandle a = set.handle("p");
  PeerHandle b = set.handle("p");

  BOOST_TEST(set.size() == 1u);
  BOOST_TEST(a.peer().data() == b.peer().data());  // the same entry
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(PeerHandleCapTest, CappedFixture)

BOOST_AUTO_TEST_CASE(WithoutAHandleTheIdlePeerIsEvicted) {
  set.context("a").succeed();

  set.context("b").succeed();

  BOOST_TEST(!Tracked(set, "a"));
  BOOST_TEST(set.size() == 1u);
}

BOOST_AUTO_TEST_CASE(AHandledPeerIsNeverEvicted) {
  PeerHandle h = set.handle("a");

  for (int i = 0; i < 5; ++i) set.context("b" + std::to_string(i)).succeed();

  BOOST_TEST(Tracked(set, "a"));
  BOOST_TEST(h.try_context().ok());
}

BOOST_AUTO_TEST_CASE(ACopyOutlivingTheOriginalStillProtects) {
  std::vector<PeerHandle> kept;
  {
    PeerHandle h = set.handle("a");
    kept.push_back(h);
  }

  set.context("b").succeed();

  BOOST_TEST(Tracked(set, "a"));
}

BOOST_AUTO_TEST_CASE(ThePeerIsEvictableOnceTheLastHandleGoes) {
  {
    PeerHandle h = set.handle("a");
    PeerHandle copy = h;
    set.context("b").succeed();
    BOOST_REQUIRE(Tracked(set, "a"));
  }

  set.context("c").succeed();

  BOOST_TEST(!Tracked(set, "a"));
}

BOOST_AUTO_TEST_CASE(MovingAHandleKeepsTheProtection) {
  PeerHandle h = set.handle("a");
  PeerHandle moved = std::move(h);

  set.context("b").succeed();

  BOOST_TEST(Tracked(set, "a"));
}

BOOST_AUTO_TEST_CASE(AssigningOverAHandleReleasesItsOldPeer) {
  PeerHandle h = set.handle("a");
  PeerHandle other = set.handle("x");

  h = other;  // "a" has no handle now
  set.context("b").succeed();

  BOOST_TEST(!Tracked(set, "a"));
  BOOST_TEST(Tracked(set, "x"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(PeerHandleIdleTest, IdleFixture)

BOOST_AUTO_TEST_CASE(WithoutAHandleTheIdlePeerIsDropped) {
  set.context("a").succeed();

  IdleOut();

  BOOST_TEST(!Tracked(set, "a"));
}

BOOST_AUTO_TEST_CASE(AHandledPeerIsNeverDropped) {
  PeerHandle h = set.handle("a");

  IdleOut();
  IdleOut();

  BOOST_TEST(Tracked(set, "a"));
  BOOST_TEST(h.state() == State::kClosed);
}

BOOST_AUTO_TEST_CASE(ThePeerIsDroppedOnceTheLastHandleGoes) {
  {
    PeerHandle h = set.handle("a");
    IdleOut();
    BOOST_REQUIRE(Tracked(set, "a"));
  }

  IdleOut();

  BOOST_TEST(!Tracked(set, "a"));
}

BOOST_AUTO_TEST_CASE(AHandleKeepsItsHistoryThroughIdleTime) {
  PeerHandle h = set.handle("a");
  for (int i = 0; i < 3; ++i) h.context().fail();  // still closed

  IdleOut();

  BOOST_REQUIRE(Tracked(set, "a"));
  BOOST_TEST(set.snapshot("a")->failures == 3u);  // not a re-created peer
}

BOOST_AUTO_TEST_SUITE_END()
