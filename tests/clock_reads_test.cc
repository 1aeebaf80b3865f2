// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The closed success path reads no clock (DESIGN.md section 5) unless a
// slow-call rule needs to time the call; failures, rejections and slow-call
// timing do read it.
//
// Two ways of counting: a `Clock` that counts its `now()` calls, and, for
// the default clock (which the library reads with clock_gettime directly),
// clock_gettime itself, interposed in this test binary and counted per
// clock id on the calling thread while a scope asks for it.

#include <dlfcn.h>
#include <time.h>

#include <atomic>
#include <stdexcept>
#include <string_view>

#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "test_util.h"

namespace {

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

// clock_gettime calls made by this thread while a ClockGettimeCounter lives.
struct GettimeCounts {
  int monotonic = 0;
  int coarse = 0;
  int other = 0;
};
thread_local GettimeCounts* tl_gettime_counts = nullptr;

class ClockGettimeCounter {
 public:
  ClockGettimeCounter() { tl_gettime_counts = &counts_; }
  ~ClockGettimeCounter() { tl_gettime_counts = nullptr; }
  const GettimeCounts& counts() const { return counts_; }

 private:
  GettimeCounts counts_;
};

}  // namespace

// The executable's definition interposes libc's for libcircuit too (the
// library calls it through the PLT).
extern "C" int clock_gettime(clockid_t id, struct timespec* ts) noexcept {
  using Fn = int (*)(clockid_t, struct timespec*);
  static const Fn real =
      reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "clock_gettime"));
  if (GettimeCounts* c = tl_gettime_counts) {
    if (id == CLOCK_MONOTONIC) {
      ++c->monotonic;
    } else if (id == CLOCK_MONOTONIC_COARSE) {
      ++c->coarse;
    } else {
      ++c->other;
    }
  }
  return real(id, ts);
}

namespace circuit::testing {
namespace {

// Calls longer than 1 s are slow; half of them open a peer.
// Only the consecutive-failures rule: `n` failures in a row trip.
BreakerOptions ConsecutiveRuleOnly(int n) {
  BreakerOptions options;
  options.max_failures = kUnlimited;
  options.consecutive_failures = n;
  return options;
}

BreakerOptions SlowCallRule() {
  BreakerOptions options;
  options.slow_call_duration = absl::Seconds(1);
  options.slow_call_rate_threshold = 0.5;
  return options;
}

struct Fixture {
  CountingClock clock;
  CircuitBreakerSet set{ManualOptions(&clock)};

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
  PeerHandle handle = set.handle(kPeer);
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
  CircuitBreakerSet consecutive(ManualOptions(&clock, ConsecutiveRuleOnly(5)));
  consecutive.context(kPeer).succeed();
  clock.reset();

  for (int i = 0; i < 10; ++i) consecutive.context(kPeer).succeed();

  BOOST_TEST(clock.reads() == 0);
}

BOOST_AUTO_TEST_CASE(FailureThatCannotTripReadsNoClock) {
  // No window rule, no rate rule, and a run of failures still short of the
  // consecutive rule: nothing needs the time.
  CircuitBreakerSet consecutive(ManualOptions(&clock, ConsecutiveRuleOnly(5)));
  consecutive.context(kPeer).succeed();
  clock.reset();

  for (int i = 0; i < 4; ++i) consecutive.context(kPeer).fail();

  BOOST_TEST(clock.reads() == 0);
  BOOST_TEST(consecutive.state(kPeer) == State::kClosed);
}

BOOST_AUTO_TEST_CASE(FailureThatTripsTheConsecutiveRuleReadsTheClock) {
  CircuitBreakerSet consecutive(ManualOptions(&clock, ConsecutiveRuleOnly(2)));
  consecutive.context(kPeer).fail();
  clock.reset();

  consecutive.context(kPeer).fail();  // trips: the open deadline needs now

  BOOST_TEST(clock.reads() >= 1);
  BOOST_TEST(consecutive.state(kPeer) == State::kOpen);
}

BOOST_AUTO_TEST_CASE(RejectionWhileOpenReadsTheClock) {
  set.open(kPeer);
  clock.reset();

  BOOST_TEST(!set.try_context(kPeer).ok());

  BOOST_TEST(clock.reads() >= 1);
}

BOOST_AUTO_TEST_CASE(SlowCallRuleReadsTheClockOnSuccess) {
  CircuitBreakerSet timed(ManualOptions(&clock, SlowCallRule()));
  timed.context(kPeer).succeed();
  clock.reset();

  {
    Context ctx = timed.context(kPeer);  // the call's start
    BOOST_TEST(clock.reads() >= 1);
  }  // and its end

  BOOST_TEST(clock.reads() >= 2);
}

BOOST_AUTO_TEST_CASE(SlowCallRuleTimesHandleCallsToo) {
  CircuitBreakerSet timed(ManualOptions(&clock, SlowCallRule()));
  PeerHandle handle = timed.handle(kPeer);
  clock.reset();

  handle.context().succeed();

  BOOST_TEST(clock.reads() >= 2);
}

BOOST_AUTO_TEST_SUITE_END()

// The default clock: every read is a clock_gettime call, counted where it
// happens.
BOOST_AUTO_TEST_SUITE(DefaultClockReadsTest)

BOOST_AUTO_TEST_CASE(TheInterposedClockGettimeSeesTheDefaultClock) {
  ClockGettimeCounter counter;
  (void)MonotonicClock::instance().now();
  BOOST_TEST(counter.counts().monotonic == 1);
}

BOOST_AUTO_TEST_CASE(ClosedSuccessReadsNoClockByAnyForm) {
  CircuitBreakerSet set;
  set.context(kPeer).succeed();  // creates the peer
  PeerHandle handle = set.handle(kPeer);
  ClockGettimeCounter counter;

  { Context ctx = set.context(kPeer); }
  set.context(kPeer).succeed();
  BOOST_TEST(set.try_context(kPeer).ok());
  BOOST_TEST(set.call(kPeer, [] { return 1; }) == 1);
  BOOST_TEST(set.call(kPeer, [] { return absl::OkStatus(); }).ok());
  handle.context().succeed();
  BOOST_TEST(handle.try_context().ok());

  BOOST_TEST(counter.counts().monotonic == 0);
  BOOST_TEST(counter.counts().coarse == 0);
  BOOST_TEST(counter.counts().other == 0);
}

BOOST_AUTO_TEST_CASE(ARejectionFarFromTheDeadlineReadsOnlyTheCoarseClock) {
  SetOptions options;
  options.defaults.reset_timeout = absl::Seconds(60);
  CircuitBreakerSet set(options);
  set.open(kPeer);
  BOOST_TEST(!set.try_context(kPeer).ok());  // first rejection builds state
  ClockGettimeCounter counter;

  BOOST_TEST(!set.try_context(kPeer).ok());

  BOOST_TEST(counter.counts().coarse == 1);
  BOOST_TEST(counter.counts().monotonic == 0);
  BOOST_TEST(counter.counts().other == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
