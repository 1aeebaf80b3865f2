// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Listener events (circuit/listener.h): their order, exceptions thrown by
// listeners, and listeners that call back into the set.

#include "circuit/listener.h"

#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

using Events = std::vector<std::string>;

// On every event, calls back into the set it listens to: reads, admits a
// call to another peer, and adds a listener. A library holding one of its
// locks across a listener would deadlock here (or trip a lock assertion).
struct ReentrantListener : Listener {
  void before_call(std::string_view peer) override { Poke(peer); }
  void success(std::string_view peer) override { Poke(peer); }
  void failure(std::string_view peer) override { Poke(peer); }
  void rejected(std::string_view peer) override { Poke(peer); }
  void state_change(std::string_view peer, State, State to) override {
    Poke(peer);
    if (to == State::kOpen && peer == "closes-itself") {
      set->close(peer);
    }
  }

  void Poke(std::string_view peer) {
    if (peer == "side") return;  // do not recurse through our own calls
    (void)set->state(peer);
    (void)set->snapshot(peer);
    (void)set->size();
    set->context("side").succeed();
    ++pokes;
  }

  CircuitBreakerSet* set = nullptr;
  int pokes = 0;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ListenerTest, RecordingFixture)

BOOST_AUTO_TEST_CASE(SuccessfulCallHearsBeforeCallThenSuccess) {
  set.context("a").succeed();

  BOOST_TEST(listener->events() == Events({"before_call a", "success a"}));
}

BOOST_AUTO_TEST_CASE(TrippingFailureHearsFailureThenStateChange) {
  set.context("a").fail();

  BOOST_TEST(listener->events() == Events({"before_call a", "failure a",
                                           "state_change a closed->open"}));
}

BOOST_AUTO_TEST_CASE(RejectedCallHearsOnlyRejected) {
  set.context("a").fail();
  listener->clear();

  BOOST_CHECK_THROW(set.context("a"), CircuitOpenError);
  BOOST_TEST(!set.try_context("a").ok());

  BOOST_TEST(listener->events() == Events({"rejected a", "rejected a"}));
}

BOOST_AUTO_TEST_CASE(ProbeHearsHalfOpenBeforeTheCallAndClosedAfterItsSuccess) {
  set.context("a").fail();
  clock.advance(absl::Seconds(10));
  listener->clear();

  set.context("a").succeed();

  BOOST_TEST(listener->events() ==
             Events({"state_change a open->half-open", "before_call a",
                     "success a", "state_change a half-open->closed"}));
}

BOOST_AUTO_TEST_CASE(FailedProbeHearsFailureThenReopen) {
  set.context("a").fail();
  clock.advance(absl::Seconds(10));
  Context probe = set.context("a");
  listener->clear();

  probe.fail();

  BOOST_TEST(listener->events() ==
             Events({"failure a", "state_change a half-open->open"}));
}

BOOST_AUTO_TEST_CASE(IgnoredCallHearsNoOutcome) {
  set.context("a").ignore();

  BOOST_TEST(listener->events() == Events({"before_call a"}));
}

BOOST_AUTO_TEST_CASE(LateOutcomeReachesListenersWithoutAStateChange) {
  Context slow = set.context("a");
  set.context("a").fail();
  set.close("a");
  listener->clear();

  slow.fail();

  BOOST_TEST(listener->events() == Events({"failure a"}));
  BOOST_TEST(set.state("a") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(ManualControlHearsEachStateChange) {
  set.open("a");
  set.half_open("a");
  set.close("a");
  set.close("a");  // already closed: no change

  BOOST_TEST(listener->events() ==
             Events({"state_change a closed->open",
                     "state_change a open->half-open",
                     "state_change a half-open->closed"}));
}

BOOST_AUTO_TEST_CASE(EveryListenerHearsEveryEventInRegistrationOrder) {
  auto second = std::make_shared<RecordingListener>();
  set.add_listener(second);

  set.context("a").succeed();

  BOOST_TEST(listener->events() == Events({"before_call a", "success a"}));
  BOOST_TEST(second->events() == Events({"before_call a", "success a"}));
}

BOOST_AUTO_TEST_CASE(NullListenerIsIgnored) {
  set.add_listener(nullptr);

  set.context("a").succeed();

  BOOST_TEST(listener->events().size() == 2u);
}

// A listener that throws from every event, a std::exception or not: the
// listener after it hears everything, and the set is unchanged.
BOOST_DATA_TEST_CASE_F(RecordingFixture, ThrowingListenerChangesNothing,
                       bdata::make({true, false}), standard) {
  CircuitBreakerSet s(ManualOptions(&clock, 0));
  s.add_listener(std::make_shared<ThrowingListener>(standard));
  auto after = std::make_shared<RecordingListener>();
  s.add_listener(after);

  Context ctx = s.context("a");  // before_call throws
  ctx.fail();                    // failure and state_change throw
  BOOST_CHECK_THROW(s.context("a"), CircuitOpenError);  // rejected throws
  clock.advance(absl::Seconds(10));
  s.context("a").succeed();  // state_change, before_call, success throw

  BOOST_TEST(s.state("a") == State::kClosed);
  BOOST_TEST(after->events() ==
             Events({"before_call a", "failure a", "state_change a closed->open",
                     "rejected a", "state_change a open->half-open",
                     "before_call a", "success a",
                     "state_change a half-open->closed"}));
  BOOST_TEST(s.snapshot("a")->calls == 2u);
  BOOST_TEST(s.snapshot("a")->failures == 1u);
  BOOST_TEST(s.snapshot("a")->successes == 1u);
  BOOST_TEST(s.snapshot("a")->rejections == 1u);
  BOOST_TEST(FailuresToOpen(s, "b") == 1);  // still opens on the first failure
}

BOOST_AUTO_TEST_CASE(ListenerMayCallBackIntoTheSet) {
  auto reentrant = std::make_shared<ReentrantListener>();
  reentrant->set = &set;
  set.add_listener(reentrant);

  set.context("a").fail();
  BOOST_CHECK_THROW(set.context("a"), CircuitOpenError);
  set.context("closes-itself").fail();

  // a: before_call, failure, state_change, rejected; closes-itself:
  // before_call, failure, state_change to open and (its own close) to closed.
  BOOST_TEST(reentrant->pokes == 8);
  BOOST_TEST(set.state("closes-itself") == State::kClosed);
  BOOST_TEST(set.snapshot("side")->successes == 8u);
}

BOOST_AUTO_TEST_CASE(ListenerMayAdmitTheSamePeerDuringItsProbeTransition) {
  struct Prober : Listener {
    void state_change(std::string_view peer, State, State to) override {
      if (to != State::kHalfOpen) return;
      // The caller that moved it to half-open holds the only probe slot.
      absl::StatusOr<Context> ctx = set->try_context(peer);
      second_admitted = ctx.ok();
      seen = set->state(peer);
    }
    CircuitBreakerSet* set = nullptr;
    bool second_admitted = true;
    State seen = State::kClosed;
  };
  auto prober = std::make_shared<Prober>();
  prober->set = &set;
  set.add_listener(prober);
  set.context("a").fail();
  clock.advance(absl::Seconds(10));

  Context probe = set.context("a");

  BOOST_TEST(probe.probe());
  BOOST_TEST(!prober->second_admitted);
  BOOST_TEST(prober->seen == State::kHalfOpen);
}

BOOST_AUTO_TEST_CASE(ListenerMayAddAListenerWhileBeingCalled) {
  struct Adder : Listener {
    void before_call(std::string_view) override {
      if (!added) {
        added = true;
        set->add_listener(late);
      }
    }
    CircuitBreakerSet* set = nullptr;
    std::shared_ptr<RecordingListener> late =
        std::make_shared<RecordingListener>();
    bool added = false;
  };
  auto adder = std::make_shared<Adder>();
  adder->set = &set;
  set.add_listener(adder);

  set.context("a").succeed();
  set.context("b").succeed();

  BOOST_TEST(adder->late->events() ==
             Events({"success a", "before_call b", "success b"}));
}

BOOST_AUTO_TEST_CASE(ListenerHearsEventsOnTheThreadThatCausedThem) {
  struct ThreadRecorder : Listener {
    void failure(std::string_view) override { id = std::this_thread::get_id(); }
    std::thread::id id;
  };
  auto rec = std::make_shared<ThreadRecorder>();
  set.add_listener(rec);
  Context ctx = set.context("a");

  std::thread::id worker_id;
  std::thread worker([&worker_id, c = std::move(ctx)]() mutable {
    worker_id = std::this_thread::get_id();
    c.fail();
  });
  worker.join();

  BOOST_TEST((rec->id == worker_id));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
