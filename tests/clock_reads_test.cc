// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The closed success path reads no clock (DESIGN.md section 5) unless a
// slow-call rule needs to time the call; failures, rejections and slow-call
// timing do read it.

#include <atomic>
#include <stdexcept>
#include <string_view>

#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"

namespace {

using circuit::BreakerOptions;
using circuit::CircuitBreakerSet;
using circuit::Context;
using circuit::SetOptions;

// A clock that counts how often it is read; its time stands still.
class CountingClock final : public circuit::Clock {
 public:
  absl::Time now() const override {
    reads_.fetch_add(1, std::memory_order_relaxed);
    return absl::UnixEpoch() + absl::Hours(1);
  }
  int reads() const { return reads_.load(std::memory_order_relaxed); }
  void reset() { reads_.store(0, std::memory_order_relaxed); }

 private:
  mutable std::atomic<int> reads_{0};
};

constexpr std::string_view kPeer = "10.0.0.7:443";

SetOptions WithClock(const circuit::Clock* clock, BreakerOptions defaults) {
  SetOptions options;
  options.clock = clock;
  options.defaults = defaults;
  return options;
}

struct Fixture {
  CountingClock clock;
  CircuitBreakerSet set{WithClock(&clock, BreakerOptions{})};

  Fixture() {
    set.context(kPeer).succeed();  // creates the peer
    clock.reset();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ClockReadsTest, Fixture)

BOOST_AUTO_TEST_CASE(ClosedSuccessThroughContextReadsNoClock) {
  for (int i = 0; i < 10; ++i) {
    Context ctx = set.context(kPeer);
  }
  set.context(kPeer).succeed();

  BOOST_TEST(clock.reads() == 0);
}

BOOST_AUTO_TEST_CASE(ClosedSuccessThroughTryContextAndCallReadsNoClock) {
  {
    absl::StatusOr<Context> ctx = set.try_context(kPeer);
    BOOST_TEST(ctx.ok());
  }
  int r = set.call(kPeer, [] { return 1; });
  absl::Status s = set.call(kPeer, [] { return absl::OkStatus(); });

  BOOST_TEST(clock.reads() == 0);
  BOOST_TEST(r == 1);
  BOOST_TEST(s.ok());
}

BOOST_AUTO_TEST_CASE(ClosedSuccessThroughHandleReadsNoClock) {
  circuit::PeerHandle handle = set.handle(kPeer);
  clock.reset();

  for (int i = 0; i < 10; ++i) {
    Context ctx = handle.context();
  }

  BOOST_TEST(clock.reads() == 0);
}

BOOST_AUTO_TEST_CASE(IgnoredOutcomeReadsNoClock) {
  set.context(kPeer).ignore();

  BOOST_TEST(clock.reads() == 0);
}

BOOST_AUTO_TEST_CASE(SuccessAfterAFailureReadsNoClockForTheReset) {
  set.context(kPeer).fail();  // a failure needs the time (window rule)
  BOOST_TEST(clock.reads() >= 1);
  clock.reset();

  set.context(kPeer).succeed();  // resets the run of failures
  set.context(kPeer).succeed();

  BOOST_TEST(clock.reads() == 0);
}

BOOST_AUTO_TEST_CASE(ConsecutiveRuleSuccessReadsNoClock) {
  BreakerOptions options;
  options.max_failures = circuit::kUnlimited;
  options.consecutive_failures = 5;
  CircuitBreakerSet consecutive(WithClock(&clock, options));
  consecutive.context(kPeer).succeed();
  clock.reset();

  for (int i = 0; i < 10; ++i) consecutive.context(kPeer).succeed();

  BOOST_TEST(clock.reads() == 0);
}

BOOST_AUTO_TEST_CASE(RejectionWhileOpenReadsTheClock) {
  set.open(kPeer);
  clock.reset();

  BOOST_TEST(!set.try_context(kPeer).ok());

  BOOST_TEST(clock.reads() >= 1);
}

BOOST_AUTO_TEST_CASE(SlowCallRuleReadsTheClockOnSuccess) {
  BreakerOptions options;
  options.slow_call_duration = absl::Seconds(1);
  options.slow_call_rate_threshold = 0.5;
  CircuitBreakerSet timed(WithClock(&clock, options));
  timed.context(kPeer).succeed();
  clock.reset();

  {
    Context ctx = timed.context(kPeer);  // the call's start
    BOOST_TEST(clock.reads() >= 1);
  }  // and its end

  BOOST_TEST(clock.reads() >= 2);
}

BOOST_AUTO_TEST_CASE(SlowCallRuleTimesHandleCallsToo) {
  BreakerOptions options;
  options.slow_call_duration = absl::Seconds(1);
  options.slow_call_rate_threshold = 0.5;
  CircuitBreakerSet timed(WithClock(&clock, options));
  circuit::PeerHandle handle = timed.handle(kPeer);
  clock.reset();

  handle.context().succeed();

  BOOST_TEST(clock.reads() >= 2);
}

BOOST_AUTO_TEST_SUITE_END()
