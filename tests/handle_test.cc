// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// `PeerHandle`: a copyable handle to one peer's breaker that skips the
// lookup, and keeps its peer from being dropped by `max_peers` or by idle
// sweeps for as long as any copy of it exists.

#include <atomic>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "test_util.h"

namespace circuit::testing {
namespace {

// A set that tracks at most `kCap` peers.
template <std::size_t kCap>
struct CappedFixture : ManualSetFixture {
  CappedFixture() : ManualSetFixture(Options()) {}

  static SetOptions Options() {
    SetOptions options;
    options.max_peers = kCap;
    return options;
  }
};

// A set that drops peers idle for a minute.
struct IdleFixture : ManualSetFixture {
  static constexpr absl::Duration kIdle = absl::Seconds(60);

  IdleFixture() : ManualSetFixture(Options()) {}

  static SetOptions Options() {
    SetOptions options;
    options.idle_timeout = kIdle;
    return options;
  }

  // Lets every peer not used from now on go idle, sweeping as it goes.
  void IdleOut() { SweepFor(set, clock, 3 * kIdle, kIdle / 8); }
};

}  // namespace

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(PeerHandleTest, ManualSetFixture)

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
  BOOST_CHECK_EXCEPTION(h.context(), CircuitOpenError,
                        [](const CircuitOpenError& e) {
                          return e.peer() == "p" &&
                                 e.retry_after() == absl::InfiniteDuration();
                        });
}

BOOST_AUTO_TEST_CASE(TryContextReportsRejectionAsUnavailable) {
  PeerHandle h = set.handle("p");
  set.open("p");

  absl::StatusOr<Context> ctx = h.try_context();

  BOOST_TEST(absl::IsUnavailable(ctx.status()));
  BOOST_TEST(absl::StrContains(ctx.status().message(), "p"));
  BOOST_TEST(set.snapshot("p")->rejections == 1u);
}

BOOST_AUTO_TEST_CASE(ProbesThroughTheHandle) {
  PeerHandle h = set.handle("p");
  set.open("p");
  clock.advance(absl::Seconds(10));

  Context probe = h.context();
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
BOOST_FIXTURE_TEST_SUITE(PeerHandleCapTest, CappedFixture<1>)

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

// ---------------------------------------------------------------------------
// A handle to a new peer keeps the set under max_peers as a context does:
// idle closed peers make room; handled ones never do.
BOOST_FIXTURE_TEST_SUITE(PeerHandleCreationTest, CappedFixture<4>)

BOOST_AUTO_TEST_CASE(HandlesToNewPeersEvictIdleOnes) {
  for (const char* p : {"a", "b", "c", "d"}) set.context(p).succeed();

  std::vector<PeerHandle> handles;
  for (const char* p : {"w", "x", "y", "z"}) handles.push_back(set.handle(p));

  BOOST_TEST(set.size() == 4u);
  for (const char* p : {"a", "b", "c", "d"}) BOOST_TEST(!Tracked(set, p));
  for (const char* p : {"w", "x", "y", "z"}) BOOST_TEST(Tracked(set, p));
}

BOOST_AUTO_TEST_CASE(AHandleThatReachesTheCapEvictsNothing) {
  for (const char* p : {"a", "b", "c"}) set.context(p).succeed();

  PeerHandle h = set.handle("d");

  BOOST_TEST(set.size() == 4u);
  for (const char* p : {"a", "b", "c", "d"}) BOOST_TEST(Tracked(set, p));
}

BOOST_AUTO_TEST_CASE(AHandleOneOverTheCapEvictsTheOldestIdlePeer) {
  for (const char* p : {"a", "b", "c", "d"}) set.context(p).succeed();

  PeerHandle h = set.handle("e");

  BOOST_TEST(set.size() == 4u);
  BOOST_TEST(!Tracked(set, "a"));
  for (const char* p : {"b", "c", "d", "e"}) BOOST_TEST(Tracked(set, p));
}

BOOST_AUTO_TEST_CASE(AHandleToAKnownPeerEvictsNothing) {
  for (const char* p : {"a", "b", "c", "d"}) set.context(p).succeed();

  PeerHandle h = set.handle("a");

  BOOST_TEST(set.size() == 4u);
  for (const char* p : {"a", "b", "c", "d"}) BOOST_TEST(Tracked(set, p));
}

BOOST_AUTO_TEST_CASE(HandledPeersStayEvenPastTheCap) {
  std::vector<PeerHandle> handles;
  for (const char* p : {"a", "b", "c", "d", "e"}) {
    handles.push_back(set.handle(p));
  }

  BOOST_TEST(set.size() == 5u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(PeerHandleIdleCreationTest, IdleFixture)

BOOST_AUTO_TEST_CASE(AHandleToANewPeerSweepsIdleOnes) {
  set.context("a").succeed();
  clock.advance(kIdle / 4);
  set.context("c").succeed();  // a new peer: sweeps, marking a's last use
  clock.advance(2 * kIdle);

  PeerHandle h = set.handle("b");

  BOOST_TEST(!Tracked(set, "a"));
  BOOST_TEST(Tracked(set, "b"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Handles dropped while another thread churns new peers through a small set:
// a dropped handle's peer is evicted and its memory reused, and that must be
// ordered after the handle's release (ThreadSanitizer checks it). The thread
// that drops the handles does nothing the evicting thread could synchronise
// with until the entries are reused; each handle names its own peer while it
// lives.
BOOST_FIXTURE_TEST_SUITE(PeerHandleChurnTest, CappedFixture<4>)

BOOST_AUTO_TEST_CASE(AReleasedHandlesEntryIsReusedOnlyAfterItsRelease) {
  constexpr int kRounds = 30;
  constexpr int kHandles = 16;
  constexpr long kChurnPerRound = 300;  // several reclamation batches
  std::atomic<long> churned{0};
  std::atomic<bool> done{false};
  long wrong_peer = 0;

  std::thread churner([&] {
    for (long i = 0; !done.load(std::memory_order_relaxed); ++i) {
      set.context("churn-" + std::to_string(i)).succeed();
      churned.store(i + 1, std::memory_order_relaxed);
    }
  });
  for (int r = 0; r < kRounds; ++r) {
    std::vector<PeerHandle> handles;
    for (int i = 0; i < kHandles; ++i) {
      const std::string name =
          "held-" + std::to_string(r) + "-" + std::to_string(i);
      handles.push_back(set.handle(name));
      PeerHandle copy = handles.back();
      if (copy.peer() != name) ++wrong_peer;
      copy.context().succeed();
    }
    const long mark = churned.load(std::memory_order_relaxed);
    handles.clear();
    while (churned.load(std::memory_order_relaxed) < mark + kChurnPerRound) {
      std::this_thread::yield();
    }
  }
  done.store(true, std::memory_order_relaxed);
  churner.join();
  set.context("last").succeed();  // every handle is gone: all may go

  BOOST_TEST(wrong_peer == 0);
  BOOST_TEST(set.size() == 4u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
