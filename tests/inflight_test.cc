// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// A call in flight when its peer is dropped (by `max_peers` or by an idle
// sweep) keeps its outcome: it is recorded on the peer's live breaker (made
// anew if need be), and no transition is ever reported for a breaker the set
// no longer tracks.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

// The lines of `listener` that report a state change of `peer`.
std::vector<std::string> ChangesOf(const RecordingListener& listener,
                                   std::string_view peer) {
  std::vector<std::string> out;
  const std::string prefix = "state_change " + std::string(peer) + " ";
  for (const std::string& line : listener.events()) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

// Checks that `peer` holds one failure that opened it, reported once as
// closed -> open, and that it now rejects calls.
void ExpectTrippedByOneFailure(CircuitBreakerSet& set,
                               const RecordingListener& listener,
                               std::string_view peer) {
  BOOST_TEST(set.state(peer) == State::kOpen);
  PeerSnapshot s = SnapshotOf(set, peer);
  BOOST_TEST(s.failures == 1u);
  BOOST_TEST(s.trips == 1u);
  std::vector<std::string> changes = ChangesOf(listener, peer);
  BOOST_TEST(changes.size() == 1u);
  BOOST_TEST(changes.at(0) ==
             "state_change " + std::string(peer) + " closed->open");
  BOOST_CHECK_THROW(set.context(peer), CircuitOpenError);
}

// How a peer with a call in flight is dropped.
enum class Drop { kEviction, kIdleSweep };

std::ostream& operator<<(std::ostream& os, Drop how) {
  return os << (how == Drop::kEviction ? "eviction" : "idle sweep");
}

const Drop kDrops[] = {Drop::kEviction, Drop::kIdleSweep};

// A set of at most two peers that drops peers idle for a minute, whose
// first counted failure opens a peer; a listener hears everything.
struct DropFixture : RecordingFixture {
  static constexpr absl::Duration kIdle = absl::Seconds(60);

  DropFixture() : RecordingFixture(Options()) {}

  static SetOptions Options() {
    SetOptions o = ManualOptions(nullptr, /*max_failures=*/0);
    o.max_peers = 2;
    o.idle_timeout = kIdle;
    return o;
  }

  // `calls` calls to db-1 left in flight while db-1 is dropped: evicted as
  // the least recently used when two other peers are used, or swept once
  // idle.
  std::vector<Context> HeldThroughDrop(Drop how, int calls) {
    std::vector<Context> held;
    for (int i = 0; i < calls; ++i) held.push_back(set.context("db-1"));
    if (how == Drop::kEviction) {
      SucceedOnce(set, "db-2");
      SucceedOnce(set, "db-3");
    } else {
      SweepFor(set, clock, 3 * kIdle, kIdle / 8);
    }
    BOOST_REQUIRE(!Tracked(set, "db-1"));
    return held;
  }

  Context HeldThroughDrop(Drop how) {
    return std::move(HeldThroughDrop(how, 1).front());
  }
};

// Remembers the peers whose breaker was reported opening.
class TripRecorder : public Listener {
 public:
  void state_change(std::string_view peer, State, State to) override {
    if (to != State::kOpen) return;
    std::lock_guard<std::mutex> lock(mu_);
    opened_.insert(std::string(peer));
  }

  std::set<std::string> opened() const {
    std::lock_guard<std::mutex> lock(mu_);
    return opened_;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> opened_;
};

struct Totals {
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::set<std::string> failed;
};

// One thread's calls: keeps up to `kHeld` admitted calls, settling a random
// one as each new call is admitted; about one settle in 150 fails.
Totals Churn(CircuitBreakerSet& set, unsigned seed, int calls) {
  constexpr std::size_t kHeld = 6;
  constexpr int kPeers = 600;
  std::mt19937 rng(seed);
  Totals t;
  std::vector<Context> held;
  auto settle_one = [&](std::size_t i) {
    if (rng() % 150 == 0) {
      t.failed.insert(std::string(held[i].peer()));
      held[i].fail();
      ++t.failures;
    } else {
      held[i].succeed();
      ++t.successes;
    }
    held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
  };
  for (int n = 0; n < calls; ++n) {
    absl::StatusOr<Context> ctx =
        set.try_context("peer-" + std::to_string(rng() % kPeers));
    if (ctx.ok()) held.push_back(*std::move(ctx));
    if (held.size() > kHeld) settle_one(rng() % held.size());
  }
  while (!held.empty()) settle_one(held.size() - 1);
  return t;
}

// Runs Churn on `threads` threads and adds up what they did.
Totals ChurnOnThreads(CircuitBreakerSet& set, int threads, int calls) {
  std::vector<Totals> totals(static_cast<std::size_t>(threads));
  std::vector<std::thread> running;
  for (int i = 0; i < threads; ++i) {
    running.emplace_back([&set, &totals, i, calls] {
      totals[static_cast<std::size_t>(i)] =
          Churn(set, static_cast<unsigned>(i + 1), calls);
    });
  }
  for (std::thread& t : running) t.join();
  Totals all;
  for (const Totals& t : totals) {
    all.successes += t.successes;
    all.failures += t.failures;
    all.failed.insert(t.failed.begin(), t.failed.end());
  }
  return all;
}

}  // namespace

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(InFlightDropTest, DropFixture)

BOOST_DATA_TEST_CASE_F(DropFixture, AHeldFailureTripsThePeerItWasAdmittedFor,
                       bdata::make(kDrops), how) {
  Context held = HeldThroughDrop(how);

  held.fail();

  ExpectTrippedByOneFailure(set, *listener, "db-1");
}

BOOST_DATA_TEST_CASE_F(DropFixture, AHeldSuccessIsCountedOnTheLivePeer,
                       bdata::make(kDrops), how) {
  Context held = HeldThroughDrop(how);

  held.succeed();

  PeerSnapshot s = SnapshotOf(set, "db-1");
  BOOST_TEST(s.successes == 1u);
  BOOST_TEST(s.calls == 1u);
  BOOST_TEST(s.state == State::kClosed);
  BOOST_TEST(ChangesOf(*listener, "db-1").empty());
}

BOOST_DATA_TEST_CASE_F(DropFixture, ASuccessSettledByTheDestructorIsCountedToo,
                       bdata::make(kDrops), how) {
  std::optional<Context> held(HeldThroughDrop(how));

  held.reset();

  BOOST_TEST(SnapshotOf(set, "db-1").successes == 1u);
}

BOOST_DATA_TEST_CASE_F(DropFixture, AHeldFailureOnAPeerAlreadyBackAndOpenIsLate,
                       bdata::make(kDrops), how) {
  Context held = HeldThroughDrop(how);
  set.context("db-1").fail();  // the peer comes back and opens
  BOOST_REQUIRE(set.state("db-1") == State::kOpen);

  held.fail();

  PeerSnapshot s = SnapshotOf(set, "db-1");
  BOOST_TEST(s.failures == 2u);  // counted
  BOOST_TEST(s.trips == 1u);     // but it moved nothing
  BOOST_TEST(ChangesOf(*listener, "db-1").size() == 1u);
}

BOOST_DATA_TEST_CASE_F(DropFixture, AnIgnoredHeldCallChangesNothing,
                       bdata::make(kDrops), how) {
  Context held = HeldThroughDrop(how);

  held.ignore();

  BOOST_TEST(set.state("db-1") == State::kClosed);
  BOOST_TEST(ChangesOf(*listener, "db-1").empty());
  BOOST_TEST(set.size() <= 2u);
}

BOOST_DATA_TEST_CASE_F(DropFixture, EveryHeldCallOfTheDroppedPeerLands,
                       bdata::make(kDrops), how) {
  std::vector<Context> held = HeldThroughDrop(how, 5);

  for (int i = 0; i < 4; ++i) held[i].succeed();
  held[4].fail();

  PeerSnapshot s = SnapshotOf(set, "db-1");
  BOOST_TEST(s.successes == 4u);
  BOOST_TEST(s.failures == 1u);
  BOOST_TEST(s.state == State::kOpen);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Threads admit and settle calls over many peers in a set of eight, holding
// several calls at once so that peers are dropped under them. The clock
// never moves, and the first failure opens a peer, so an open peer stays
// open and tracked: every failure must end up counted on a tracked, open
// peer, and every reported trip must belong to one.
BOOST_AUTO_TEST_SUITE(InFlightConcurrencyTest)

BOOST_DATA_TEST_CASE(EveryFailureLandsOnATrackedOpenPeer,
                     bdata::make({false, true}), with_listener) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 6000;
  ManualClock clock;
  SetOptions o = ManualOptions(&clock, /*max_failures=*/0);
  o.max_peers = 8;
  CircuitBreakerSet set(o);
  auto trips = std::make_shared<TripRecorder>();
  if (with_listener) set.add_listener(trips);

  Totals all = ChurnOnThreads(set, kThreads, kCalls);

  BOOST_REQUIRE(all.failures > 0u);
  std::uint64_t failures = 0, successes = 0;
  for (const PeerSnapshot& s : set.snapshot()) {
    failures += s.failures;
    successes += s.successes;
  }
  BOOST_TEST(failures == all.failures);
  BOOST_TEST(successes <= all.successes);  // dropped peers take theirs along
  for (const std::string& peer : all.failed) {
    BOOST_TEST_CONTEXT(peer) { BOOST_TEST(set.state(peer) == State::kOpen); }
  }
  for (const std::string& peer : trips->opened()) {
    BOOST_TEST_CONTEXT(peer) {
      PeerSnapshot s = SnapshotOf(set, peer);
      BOOST_TEST(s.state == State::kOpen);
      BOOST_TEST(s.trips == 1u);
    }
  }
  if (with_listener) BOOST_TEST(trips->opened() == all.failed);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
