// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The inline closed-state path (circuit/internal/hot_path.h) and the
// per-thread success counts behind it (src/counters.h): every case the
// inline path must hand to the library, and exact counts across threads,
// array growth and id reuse.

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "epoch.h"
#include "test_util.h"

namespace {

using circuit::CircuitBreakerSet;
using circuit::Context;
using circuit::ManualClock;
using circuit::PeerHandle;
using circuit::SetOptions;
using circuit::State;
using circuit::testing::CountingListener;
using circuit::testing::ManualOptions;

struct Fixture {
  ManualClock clock;
  CircuitBreakerSet set{[this] {
    // The run rule only: three failures in a row trip.
    SetOptions options = ManualOptions(&clock, circuit::kUnlimited);
    options.defaults.consecutive_failures = 3;
    return options;
  }()};

  std::uint64_t Successes(std::string_view peer) {
    return set.snapshot(peer)->successes;
  }
  int Run(std::string_view peer) {
    return set.snapshot(peer)->consecutive_failures;
  }
};

BOOST_FIXTURE_TEST_SUITE(HotPathTest, Fixture)

BOOST_AUTO_TEST_CASE(AHandleSuccessIsCounted) {
  PeerHandle h = set.handle("a");

  for (int i = 0; i < 5; ++i) h.context();

  BOOST_TEST(Successes("a") == 5u);
  BOOST_TEST(set.snapshot("a")->calls == 5u);
}

BOOST_AUTO_TEST_CASE(ListenersHearHandleCalls) {
  auto events = std::make_shared<CountingListener>();
  PeerHandle h = set.handle("a");
  h.context();  // before the listener: not heard
  set.add_listener(events);

  h.context();
  { Context ctx = set.context("a"); }

  BOOST_TEST(events->before_calls.load() == 2);
  BOOST_TEST(events->successes.load() == 2);
  BOOST_TEST(Successes("a") == 3u);
}

BOOST_AUTO_TEST_CASE(ASuccessEndsAFailureRunJustBeforeItTrips) {
  PeerHandle h = set.handle("a");
  h.context().fail();
  h.context().fail();  // one short of consecutive_failures
  BOOST_TEST(Run("a") == 2);

  h.context();  // the success resets the run (the general path)

  BOOST_TEST(Run("a") == 0);
  h.context().fail();
  h.context().fail();
  BOOST_TEST(set.state("a") == State::kClosed);
  h.context().fail();  // the third in a row, after the reset
  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ALateSuccessDoesNotEndTheNewGenerationsRun) {
  PeerHandle h = set.handle("a");
  std::optional<Context> ctx(h.context());
  set.open("a");
  set.close("a");  // closed again, in a later generation
  h.context().fail();
  h.context().fail();

  ctx.reset();  // a success, admitted before the trip: counted, not applied

  BOOST_TEST(Successes("a") == 1u);
  BOOST_TEST(Run("a") == 2);
}

BOOST_AUTO_TEST_CASE(AnEscapingExceptionIsAFailure) {
  PeerHandle h = set.handle("a");

  try {
    Context ctx = h.context();
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }

  BOOST_TEST(Successes("a") == 0u);
  BOOST_TEST(set.snapshot("a")->failures == 1u);
}

BOOST_AUTO_TEST_CASE(ADisabledPeerCountsSuccesses) {
  PeerHandle h = set.handle("a");
  set.disable("a");

  h.context();
  { Context ctx = set.context("a"); }

  BOOST_TEST(Successes("a") == 2u);
}

BOOST_AUTO_TEST_CASE(AnOpenPeerRejectsThroughTheHandle) {
  PeerHandle h = set.handle("a");
  set.open("a");

  BOOST_CHECK_THROW(h.context(), circuit::CircuitOpenError);
  BOOST_TEST(set.snapshot("a")->rejections == 1u);
}

BOOST_AUTO_TEST_CASE(ProbesAreSettledByTheLibrary) {
  circuit::BreakerOptions two_probes;
  two_probes.half_open_max_calls = 2;
  two_probes.half_open_successes = 2;
  set.configure("a", two_probes);
  PeerHandle h = set.handle("a");
  set.open("a");  // no failure run: only the generation tells a probe apart
  clock.advance(absl::Seconds(10));  // the reset timeout

  {
    Context probe = h.context();
    BOOST_TEST(probe.probe());
  }  // the first of two successes needed
  BOOST_TEST(set.state("a") == State::kHalfOpen);
  { Context probe = h.context(); }

  BOOST_TEST(set.state("a") == State::kClosed);
  BOOST_TEST(Successes("a") == 2u);
}

BOOST_AUTO_TEST_CASE(TheSlowCallRuleTimesHandleCalls) {
  circuit::BreakerOptions timed;
  timed.slow_call_duration = absl::Seconds(1);
  timed.slow_call_rate_threshold = 0.5;
  timed.minimum_calls = 2;
  set.configure("a", timed);
  PeerHandle h = set.handle("a");

  {
    Context ctx = h.context();
    clock.advance(absl::Seconds(2));  // slower than slow_call_duration
  }
  {
    Context ctx = h.context();
    clock.advance(absl::Seconds(2));
  }

  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(SuccessesFromManyThreadsAddUpExactly) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 20000;
  PeerHandle h = set.handle("hot");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        if ((i + t) % 2 == 0) {
          h.context();
        } else {
          Context ctx = set.context("hot");
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  BOOST_TEST(Successes("hot") == std::uint64_t{kThreads} * kCalls);
}

BOOST_AUTO_TEST_CASE(RejectionsFromManyThreadsAddUpExactly) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 20000;
  set.open("down");
  PeerHandle h = set.handle("down");
  std::atomic<int> admitted{0};  // Boost.Test checks only on this thread
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        bool ok = (i + t) % 2 == 0 ? h.try_context().ok()
                                   : set.try_context("down").ok();
        if (ok) ++admitted;
      }
    });
  }
  for (std::thread& t : threads) t.join();

  BOOST_TEST(admitted.load() == 0);
  BOOST_TEST(set.snapshot("down")->rejections ==
             std::uint64_t{kThreads} * kCalls);
}

BOOST_AUTO_TEST_CASE(CountsSurviveTheGrowthOfAThreadsArray) {
  // More peers than a thread's first array holds (4096), each counted once
  // on this thread, the first before the array grows past it.
  constexpr int kPeers = 9000;
  for (int i = 0; i < kPeers; ++i) set.context(absl::StrCat("p", i)).succeed();
  set.context("p0").succeed();

  BOOST_TEST(Successes("p0") == 2u);
  BOOST_TEST(Successes("p4095") == 1u);
  BOOST_TEST(Successes("p8999") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(AReusedCounterStartsAtZero) {
  {
    CircuitBreakerSet first;
    for (int i = 0; i < 7; ++i) first.context("a").succeed();
    first.open("a");
    for (int i = 0; i < 5; ++i) BOOST_TEST(!first.try_context("a").ok());
  }  // its breakers are freed, and their counter ids with them
  circuit::internal::Epoch::Barrier();

  CircuitBreakerSet second;
  second.context("b").succeed();
  second.open("b");
  BOOST_TEST(!second.try_context("b").ok());

  BOOST_TEST(second.snapshot("b")->successes == 1u);
  BOOST_TEST(second.snapshot("b")->rejections == 1u);
}

BOOST_AUTO_TEST_CASE(CountsOfAThreadThatExitedAreKept) {
  CircuitBreakerSet set;
  std::thread([&] {
    for (int i = 0; i < 3; ++i) set.context("a").succeed();
  }).join();
  std::thread([&] { set.context("a").succeed(); }).join();  // reuses its record

  BOOST_TEST(set.snapshot("a")->successes == 4u);
}

}  // namespace
