// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The trip rules and the open-period backoff of DESIGN.md section 2.1, each
// at its edges on a ManualClock: consecutive failures, the failure-rate and
// slow-call-rate rules over their bucketed window, `kUnlimited`, backoff with
// its cap, jitter and the decay of trips in a row; and the validation of
// every option they add.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"

namespace bdata = boost::unit_test::data;

namespace {

using circuit::BreakerOptions;
using circuit::CircuitBreakerSet;
using circuit::ManualClock;
using circuit::SetOptions;
using circuit::State;

// Options with every rule off, so a test turns on just the one it checks.
BreakerOptions NoRules() {
  BreakerOptions o;
  o.max_failures = circuit::kUnlimited;
  return o;
}

std::unique_ptr<CircuitBreakerSet> MakeSet(const BreakerOptions& defaults,
                                           const ManualClock& clock,
                                           std::uint64_t seed = 1) {
  SetOptions options;
  options.defaults = defaults;
  options.clock = &clock;
  options.random_seed = seed;
  return std::make_unique<CircuitBreakerSet>(options);
}

void Fail(CircuitBreakerSet& set, std::string_view peer, int n = 1) {
  for (int i = 0; i < n; ++i) set.context(peer).fail();
}

void Succeed(CircuitBreakerSet& set, std::string_view peer, int n = 1) {
  for (int i = 0; i < n; ++i) set.context(peer).succeed();
}

// A call that takes `d` on `clock` and then succeeds.
void SucceedAfter(CircuitBreakerSet& set, ManualClock& clock,
                  std::string_view peer, absl::Duration d) {
  circuit::Context ctx = set.context(peer);
  clock.advance(d);
  ctx.succeed();
}

// How long the peer's current open period lasts from `opened_at`.
absl::Duration OpenPeriod(const CircuitBreakerSet& set, std::string_view peer,
                          absl::Time opened_at) {
  std::optional<circuit::PeerSnapshot> s = set.snapshot(peer);
  BOOST_REQUIRE(s.has_value());
  return s->open_until - opened_at;
}

}  // namespace

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(ConsecutiveFailuresTest)

BOOST_DATA_TEST_CASE(StaysClosedBelowTheRun, bdata::xrange(0, 5), failures) {
  ManualClock clock;
  BreakerOptions o = NoRules();
  o.consecutive_failures = 5;
  auto set = MakeSet(o, clock);

  Fail(*set, "p", failures);

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(OpensOnTheNthFailureInARow) {
  ManualClock clock;
  BreakerOptions o = NoRules();
  o.consecutive_failures = 5;
  auto set = MakeSet(o, clock);
  Fail(*set, "p", 4);

  Fail(*set, "p");

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ASuccessResetsTheRun) {
  ManualClock clock;
  BreakerOptions o = NoRules();
  o.consecutive_failures = 3;
  auto set = MakeSet(o, clock);

  Fail(*set, "p", 2);
  Succeed(*set, "p");
  Fail(*set, "p", 2);

  BOOST_TEST(set->state("p") == State::kClosed);
  BOOST_TEST(set->snapshot("p")->consecutive_failures == 2);
  Fail(*set, "p");
  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(AnIgnoredOutcomeNeitherCountsNorResetsTheRun) {
  ManualClock clock;
  BreakerOptions o = NoRules();
  o.consecutive_failures = 3;
  auto set = MakeSet(o, clock);

  Fail(*set, "p", 2);
  set->context("p").ignore();

  BOOST_TEST(set->state("p") == State::kClosed);
  Fail(*set, "p");
  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(TheRunIgnoresTime) {
  ManualClock clock;
  BreakerOptions o = NoRules();
  o.consecutive_failures = 2;
  auto set = MakeSet(o, clock);

  Fail(*set, "p");
  clock.advance(absl::Hours(24 * 365));
  Fail(*set, "p");

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(FiresAlongsideTheWindowRuleWhicheverComesFirst) {
  ManualClock clock;
  BreakerOptions o;  // window rule on: max_failures = 3 within 60 s
  o.consecutive_failures = 2;
  auto set = MakeSet(o, clock);

  Fail(*set, "run");
  clock.advance(absl::Seconds(1));
  Fail(*set, "run");  // the run of 2 fires before the window's 4th failure

  BOOST_TEST(set->state("run") == State::kOpen);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(UnlimitedTest)

BOOST_AUTO_TEST_CASE(UnlimitedTurnsTheWindowRuleOff) {
  ManualClock clock;
  auto set = MakeSet(NoRules(), clock);

  Fail(*set, "p", 1000);

  BOOST_TEST(set->state("p") == State::kClosed);
  BOOST_TEST(set->snapshot("p")->failures == 1000u);
}

BOOST_AUTO_TEST_CASE(OneBelowUnlimitedIsStillAWindowRule) {
  ManualClock clock;
  BreakerOptions o;
  o.max_failures = circuit::kUnlimited - 1;

  BOOST_TEST(o.validate().ok());
  // Not run to its threshold (2^31 failures); the set accepts it.
  BOOST_CHECK_NO_THROW(MakeSet(o, clock));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Failure rate: threshold 0.5 over 10 calls, a 10 s window of 10 buckets.
BOOST_AUTO_TEST_SUITE(FailureRateTest)

namespace {
BreakerOptions RateOptions() {
  BreakerOptions o = NoRules();
  o.failure_rate_threshold = 0.5;
  o.minimum_calls = 10;
  o.time_unit = absl::Seconds(10);
  o.window_buckets = 10;
  return o;
}
}  // namespace

BOOST_AUTO_TEST_CASE(StaysClosedJustBelowTheRate) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);

  Succeed(*set, "p", 6);
  Fail(*set, "p", 4);  // 4 / 10

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(OpensAtTheRate) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);
  Succeed(*set, "p", 5);
  Fail(*set, "p", 4);
  BOOST_REQUIRE(set->state("p") == State::kClosed);

  Fail(*set, "p");  // 5 / 10 reaches 0.5

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(OpensJustAboveTheRate) {
  ManualClock clock;
  BreakerOptions o = RateOptions();
  o.failure_rate_threshold = 0.55;
  auto set = MakeSet(o, clock);
  Succeed(*set, "p", 5);
  Fail(*set, "p", 5);  // 5 / 10 < 0.55
  BOOST_REQUIRE(set->state("p") == State::kClosed);

  Fail(*set, "p");  // 6 / 11 = 0.545... < 0.55
  BOOST_TEST(set->state("p") == State::kClosed);
  Fail(*set, "p");  // 7 / 12 = 0.583...

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_DATA_TEST_CASE(NeedsMinimumCallsInTheWindow, bdata::xrange(1, 10),
                     failures) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);

  Fail(*set, "p", failures);  // 100% failures, but fewer than 10 calls

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(OpensOnTheMinimumCall) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);
  Fail(*set, "p", 9);

  Fail(*set, "p");

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ThresholdOneNeedsEveryCallToFail) {
  ManualClock clock;
  BreakerOptions o = RateOptions();
  o.failure_rate_threshold = 1;
  auto set = MakeSet(o, clock);

  Succeed(*set, "p");
  Fail(*set, "p", 50);

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(IgnoredOutcomesAreNotCalls) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);

  for (int i = 0; i < 20; ++i) set->context("p").ignore();
  Fail(*set, "p", 9);

  BOOST_TEST(set->state("p") == State::kClosed);
}

// Nine failures at t = 0; the tenth at `offset`. The window is the last
// 10 s in whole 1 s buckets: the t = 0 bucket falls out at t = 10 s.
BOOST_DATA_TEST_CASE(OldBucketsFallOutOfTheWindow,
                     bdata::make({absl::Seconds(9), absl::Seconds(10) -
                                                        absl::Nanoseconds(1),
                                  absl::Seconds(10), absl::Seconds(10) +
                                                         absl::Nanoseconds(1)}) ^
                         bdata::make({true, true, false, false}),
                     offset, opens) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);
  Fail(*set, "p", 9);

  clock.advance(offset);
  Fail(*set, "p");

  BOOST_TEST((set->state("p") == State::kOpen) == opens);
}

BOOST_AUTO_TEST_CASE(BucketsFallOutWhole) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);
  clock.advance(absl::Milliseconds(900));  // late in the [0, 1 s) bucket
  Fail(*set, "p", 9);

  // 9.1 s after those failures, but their bucket started 10 s ago.
  clock.advance(absl::Milliseconds(9100));
  Fail(*set, "p");

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(CallsSpreadOverTheWindowAddUp) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);

  for (int i = 0; i < 9; ++i) {
    Fail(*set, "p");
    clock.advance(absl::Seconds(1));  // each in its own bucket
  }
  BOOST_REQUIRE(set->state("p") == State::kClosed);
  Fail(*set, "p");  // t = 9 s: all ten buckets hold one failure

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(OneBucketForgetsEverythingAtOnce) {
  ManualClock clock;
  BreakerOptions o = RateOptions();
  o.window_buckets = 1;
  auto set = MakeSet(o, clock);
  Fail(*set, "p", 9);

  clock.advance(absl::Seconds(10));
  Fail(*set, "p");

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(ABucketReusedAfterAFullTurnStartsEmpty) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);
  Fail(*set, "p", 9);

  // Same ring slot (t = 20 s maps onto the t = 0 bucket), a later turn.
  clock.advance(absl::Seconds(20));
  Fail(*set, "p");

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(CloseClearsTheRateWindow) {
  ManualClock clock;
  auto set = MakeSet(RateOptions(), clock);
  Fail(*set, "p", 9);

  set->close("p");
  Fail(*set, "p");

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Slow calls: longer than 1 s is slow; threshold 0.5 over 4 calls.
BOOST_AUTO_TEST_SUITE(SlowCallRateTest)

namespace {
BreakerOptions SlowOptions() {
  BreakerOptions o = NoRules();
  o.slow_call_duration = absl::Seconds(1);
  o.slow_call_rate_threshold = 0.5;
  o.minimum_calls = 4;
  o.time_unit = absl::Seconds(60);
  return o;
}

// Admits `n` calls to `peer` with the slow-call rule off, then turns it on
// (over 2 s is slow, at half the calls, minimum_calls at its default of
// 20); returns the calls, still in flight and untimed.
std::vector<circuit::Context> AdmitThenTurnTheRuleOn(CircuitBreakerSet& set,
                                                     std::string_view peer,
                                                     int n) {
  std::vector<circuit::Context> in_flight;
  for (int i = 0; i < n; ++i) in_flight.push_back(set.context(peer));
  BreakerOptions o;
  o.slow_call_duration = absl::Seconds(2);
  o.slow_call_rate_threshold = 0.5;
  set.configure(peer, o);
  return in_flight;
}
}  // namespace

BOOST_AUTO_TEST_CASE(ACallOfExactlyTheDurationIsNotSlow) {
  ManualClock clock;
  auto set = MakeSet(SlowOptions(), clock);

  for (int i = 0; i < 10; ++i) {
    SucceedAfter(*set, clock, "p", absl::Seconds(1));
  }

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(ASlowSuccessCountsAsSlow) {
  ManualClock clock;
  auto set = MakeSet(SlowOptions(), clock);
  const absl::Duration just_over = absl::Seconds(1) + absl::Nanoseconds(1);
  Succeed(*set, "p", 2);
  SucceedAfter(*set, clock, "p", just_over);
  BOOST_REQUIRE(set->state("p") == State::kClosed);  // 1 slow of 3 calls

  SucceedAfter(*set, clock, "p", just_over);  // 2 slow of 4: reaches 0.5

  BOOST_TEST(set->state("p") == State::kOpen);
  BOOST_TEST(set->snapshot("p")->failures == 0u);
}

BOOST_AUTO_TEST_CASE(StaysClosedJustBelowTheSlowRate) {
  ManualClock clock;
  auto set = MakeSet(SlowOptions(), clock);

  Succeed(*set, "p", 3);
  SucceedAfter(*set, clock, "p", absl::Seconds(2));  // 1 / 4 < 0.5
  Succeed(*set, "p");                                 // 1 / 5

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(NeedsMinimumCalls) {
  ManualClock clock;
  auto set = MakeSet(SlowOptions(), clock);

  for (int i = 0; i < 3; ++i) {
    SucceedAfter(*set, clock, "p", absl::Seconds(5));
  }

  BOOST_TEST(set->state("p") == State::kClosed);
  SucceedAfter(*set, clock, "p", absl::Seconds(5));
  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ASlowFailureCountsAsSlow) {
  ManualClock clock;
  BreakerOptions o = SlowOptions();
  auto set = MakeSet(o, clock);
  Succeed(*set, "p", 2);

  for (int i = 0; i < 2; ++i) {
    circuit::Context ctx = set->context("p");
    clock.advance(absl::Seconds(3));
    ctx.fail();
  }

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(SlowCallsNeverTripWithoutTheRateThreshold) {
  ManualClock clock;
  BreakerOptions o = SlowOptions();
  o.slow_call_rate_threshold = 0;
  auto set = MakeSet(o, clock);

  for (int i = 0; i < 10; ++i) {
    SucceedAfter(*set, clock, "p", absl::Seconds(5));
  }

  BOOST_TEST(set->state("p") == State::kClosed);
}

// Calls admitted before the rule was turned on were not timed: they are not
// slow, but they count as calls.
BOOST_AUTO_TEST_CASE(TurningTheRuleOnDoesNotMakeCallsInFlightSlow) {
  ManualClock clock;
  clock.advance(absl::Hours(1));  // far from the clock's zero
  auto set = MakeSet(BreakerOptions{}, clock);
  std::vector<circuit::Context> in_flight =
      AdmitThenTurnTheRuleOn(*set, "p", 30);

  for (circuit::Context& ctx : in_flight) ctx.succeed();

  BOOST_TEST(set->state("p") == State::kClosed);
  BOOST_TEST(set->snapshot("p")->trips == 0u);
}

BOOST_AUTO_TEST_CASE(UntimedCallsCountAsCallsForTheRate) {
  ManualClock clock;
  clock.advance(absl::Hours(1));
  auto set = MakeSet(BreakerOptions{}, clock);
  for (circuit::Context& ctx : AdmitThenTurnTheRuleOn(*set, "p", 30)) {
    ctx.succeed();
  }
  std::vector<circuit::Context> slow;
  for (int i = 0; i < 30; ++i) slow.push_back(set->context("p"));
  clock.advance(absl::Seconds(3));

  for (int i = 0; i < 29; ++i) slow[i].succeed();  // 29 slow of 59 calls
  BOOST_TEST(set->state("p") == State::kClosed);
  slow[29].succeed();  // 30 of 60: reaches 0.5

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(TurningTheRuleOnDoesNotMakeCallsInFlightSlowOnTheRealClock) {
  CircuitBreakerSet set;
  std::vector<circuit::Context> in_flight = AdmitThenTurnTheRuleOn(set, "p", 30);

  for (circuit::Context& ctx : in_flight) ctx.succeed();

  BOOST_TEST(set.state("p") == State::kClosed);
  BOOST_TEST(set.snapshot("p")->trips == 0u);
}

BOOST_AUTO_TEST_CASE(ACallStartedAtTheClocksZeroIsTimed) {
  ManualClock clock;  // reads absl::UnixEpoch(): zero nanoseconds
  BreakerOptions o = SlowOptions();
  o.minimum_calls = 1;
  auto set = MakeSet(o, clock);
  circuit::Context ctx = set->context("p");
  clock.advance(absl::Seconds(5));

  ctx.succeed();

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(SlowCallsFallOutOfTheWindow) {
  ManualClock clock;
  BreakerOptions o = SlowOptions();
  o.time_unit = absl::Seconds(10);
  auto set = MakeSet(o, clock);
  for (int i = 0; i < 3; ++i) {
    SucceedAfter(*set, clock, "p", absl::Seconds(2));  // settled at 2, 4, 6 s
  }

  clock.advance(absl::Seconds(10));  // t = 16 s: those buckets are gone
  SucceedAfter(*set, clock, "p", absl::Seconds(2));

  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Backoff: reset 10 s, doubled per trip in a row, capped at 35 s.
BOOST_AUTO_TEST_SUITE(BackoffTest)

namespace {
BreakerOptions BackoffOptions() {
  BreakerOptions o;
  o.max_failures = 0;  // the first failure opens
  o.reset_timeout = absl::Seconds(10);
  o.backoff_multiplier = 2;
  o.max_reset_timeout = absl::Seconds(35);
  o.time_unit = absl::Hours(1);
  return o;
}

// Waits out the open period (exactly) and fails the probe; returns the time
// the breaker re-opened.
absl::Time FailProbeAtTheEdge(CircuitBreakerSet& set, ManualClock& clock,
                              std::string_view peer) {
  std::optional<circuit::PeerSnapshot> s = set.snapshot(peer);
  BOOST_REQUIRE(s.has_value());
  clock.set(s->open_until);
  circuit::Context probe = set.context(peer);
  BOOST_REQUIRE(probe.probe());
  probe.fail();
  return clock.now();
}
}  // namespace

BOOST_AUTO_TEST_CASE(TheOpenPeriodGrowsAndIsCapped) {
  ManualClock clock;
  auto set = MakeSet(BackoffOptions(), clock);
  Fail(*set, "p");
  std::vector<absl::Duration> periods = {OpenPeriod(*set, "p", clock.now())};

  for (int i = 0; i < 4; ++i) {
    absl::Time opened = FailProbeAtTheEdge(*set, clock, "p");
    periods.push_back(OpenPeriod(*set, "p", opened));
  }

  std::vector<absl::Duration> expected = {absl::Seconds(10), absl::Seconds(20),
                                          absl::Seconds(35), absl::Seconds(35),
                                          absl::Seconds(35)};
  BOOST_TEST(periods == expected, boost::test_tools::per_element());
  BOOST_TEST(set->snapshot("p")->trips_in_a_row == 5);
}

// The second open period (20 s) at its edges.
BOOST_DATA_TEST_CASE(TheBackedOffPeriodEndsExactly,
                     bdata::make({absl::Seconds(20) - absl::Nanoseconds(1),
                                  absl::Seconds(20),
                                  absl::Seconds(20) + absl::Nanoseconds(1)}) ^
                         bdata::make({false, true, true}),
                     wait, admits) {
  ManualClock clock;
  auto set = MakeSet(BackoffOptions(), clock);
  Fail(*set, "p");
  absl::Time reopened = FailProbeAtTheEdge(*set, clock, "p");

  clock.set(reopened + wait);
  absl::StatusOr<circuit::Context> ctx = set->try_context("p");

  BOOST_TEST(ctx.ok() == admits);
  if (!admits) BOOST_TEST(absl::IsUnavailable(ctx.status()));
}

BOOST_AUTO_TEST_CASE(RetryAfterReportsTheBackedOffPeriod) {
  ManualClock clock;
  auto set = MakeSet(BackoffOptions(), clock);
  Fail(*set, "p");
  FailProbeAtTheEdge(*set, clock, "p");
  clock.advance(absl::Seconds(5));

  absl::Duration retry_after = absl::ZeroDuration();
  try {
    set->context("p");
  } catch (const circuit::CircuitOpenError& e) {
    retry_after = e.retry_after();
  }

  BOOST_TEST(retry_after == absl::Seconds(15));
}

BOOST_AUTO_TEST_CASE(AMultiplierOfOneKeepsThePeriod) {
  ManualClock clock;
  BreakerOptions o = BackoffOptions();
  o.backoff_multiplier = 1;
  auto set = MakeSet(o, clock);
  Fail(*set, "p");

  absl::Time opened = FailProbeAtTheEdge(*set, clock, "p");
  opened = FailProbeAtTheEdge(*set, clock, "p");

  BOOST_TEST(OpenPeriod(*set, "p", opened) == absl::Seconds(10));
}

BOOST_AUTO_TEST_CASE(ANonIntegerMultiplier) {
  ManualClock clock;
  BreakerOptions o = BackoffOptions();
  o.backoff_multiplier = 1.5;
  o.max_reset_timeout = absl::InfiniteDuration();
  auto set = MakeSet(o, clock);
  Fail(*set, "p");

  absl::Time opened = FailProbeAtTheEdge(*set, clock, "p");
  BOOST_TEST(OpenPeriod(*set, "p", opened) == absl::Seconds(15));
  opened = FailProbeAtTheEdge(*set, clock, "p");
  BOOST_TEST(OpenPeriod(*set, "p", opened) == absl::Milliseconds(22500));
}

BOOST_AUTO_TEST_CASE(AProbeSuccessKeepsTheCountForTheNextTrip) {
  ManualClock clock;
  auto set = MakeSet(BackoffOptions(), clock);
  Fail(*set, "p");
  clock.set(set->snapshot("p")->open_until);
  set->context("p").succeed();  // the probe closes it
  BOOST_REQUIRE(set->state("p") == State::kClosed);

  Fail(*set, "p");  // at once: no closed time to decay the count

  BOOST_TEST(OpenPeriod(*set, "p", clock.now()) == absl::Seconds(20));
}

BOOST_AUTO_TEST_CASE(CloseResetsTheBackoff) {
  ManualClock clock;
  auto set = MakeSet(BackoffOptions(), clock);
  Fail(*set, "p");
  FailProbeAtTheEdge(*set, clock, "p");
  FailProbeAtTheEdge(*set, clock, "p");

  set->close("p");
  Fail(*set, "p");

  BOOST_TEST(OpenPeriod(*set, "p", clock.now()) == absl::Seconds(10));
  BOOST_TEST(set->snapshot("p")->trips_in_a_row == 1);
}

BOOST_AUTO_TEST_CASE(AHugeCountSaturatesInsteadOfOverflowing) {
  ManualClock clock;
  BreakerOptions o = BackoffOptions();
  o.backoff_multiplier = 1000;
  o.max_reset_timeout = absl::InfiniteDuration();
  auto set = MakeSet(o, clock);
  Fail(*set, "p");

  for (int i = 0; i < 3; ++i) FailProbeAtTheEdge(*set, clock, "p");

  // 10 s * 1000^3 = 10^10 s is past what int64 nanoseconds hold.
  BOOST_TEST(set->state("p") == State::kOpen);
  BOOST_TEST(set->snapshot("p")->open_until > clock.now() + absl::Hours(1e6));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Decay: trips in a row drop by one per full time_unit spent closed.
BOOST_AUTO_TEST_SUITE(DecayTest)

namespace {
BreakerOptions DecayOptions() {
  BreakerOptions o;
  o.max_failures = 0;
  o.reset_timeout = absl::Seconds(1);
  o.backoff_multiplier = 2;
  o.time_unit = absl::Seconds(100);
  return o;
}

// Trips `trips` times in a row, then closes through a probe; returns the
// time it closed.
absl::Time TripThenRecover(CircuitBreakerSet& set, ManualClock& clock,
                           std::string_view peer, int trips) {
  Fail(set, peer);
  for (int i = 1; i < trips; ++i) {
    clock.set(set.snapshot(peer)->open_until);
    set.context(peer).fail();
  }
  clock.set(set.snapshot(peer)->open_until);
  set.context(peer).succeed();
  BOOST_REQUIRE(set.state(peer) == State::kClosed);
  return clock.now();
}
}  // namespace

// Two trips in a row, then closed for `closed`; the next trip's period says
// how many trips in a row it counts (1 s, 2 s, 4 s for 1, 2, 3).
BOOST_DATA_TEST_CASE(
    TheCountFallsByOnePerFullTimeUnitClosed,
    bdata::make({absl::ZeroDuration(), absl::Seconds(100) - absl::Nanoseconds(1),
                 absl::Seconds(100), absl::Seconds(200) - absl::Nanoseconds(1),
                 absl::Seconds(200), absl::Seconds(1000)}) ^
        bdata::make({4, 4, 2, 2, 1, 1}),
    closed, expected_seconds) {
  ManualClock clock;
  auto set = MakeSet(DecayOptions(), clock);
  absl::Time closed_at = TripThenRecover(*set, clock, "p", /*trips=*/2);

  clock.set(closed_at + closed);
  Fail(*set, "p");

  BOOST_TEST(OpenPeriod(*set, "p", clock.now()) ==
             absl::Seconds(expected_seconds));
}

BOOST_AUTO_TEST_CASE(TimeOpenDoesNotDecayTheCount) {
  ManualClock clock;
  BreakerOptions o = DecayOptions();
  o.reset_timeout = absl::Seconds(500);  // open for 5 time units
  auto set = MakeSet(o, clock);
  Fail(*set, "p");
  clock.advance(absl::Seconds(500));

  set->context("p").fail();  // the probe fails: second trip in a row

  BOOST_TEST(OpenPeriod(*set, "p", clock.now()) == absl::Seconds(1000));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Jitter: +/- 50% of 10 s, seeded.
BOOST_AUTO_TEST_SUITE(JitterTest)

namespace {
BreakerOptions JitterOptions() {
  BreakerOptions o;
  o.max_failures = 0;
  o.reset_timeout = absl::Seconds(10);
  o.jitter = 0.5;
  return o;
}

// The first open period of each of `peers` peers.
std::vector<absl::Duration> FirstPeriods(std::uint64_t seed, int peers,
                                         const BreakerOptions& o) {
  ManualClock clock;
  auto set = MakeSet(o, clock, seed);
  std::vector<absl::Duration> out;
  for (int i = 0; i < peers; ++i) {
    std::string peer = "peer-" + std::to_string(i);
    Fail(*set, peer);
    out.push_back(OpenPeriod(*set, peer, clock.now()));
  }
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(PeriodsStayWithinTheJitter) {
  std::vector<absl::Duration> periods = FirstPeriods(42, 500, JitterOptions());

  for (absl::Duration d : periods) {
    BOOST_TEST(d >= absl::Seconds(5));
    BOOST_TEST(d <= absl::Seconds(15));
  }
}

BOOST_AUTO_TEST_CASE(PeriodsSpreadAcrossTheJitter) {
  std::vector<absl::Duration> periods = FirstPeriods(42, 500, JitterOptions());

  auto [lo, hi] = std::minmax_element(periods.begin(), periods.end());
  std::set<absl::Duration> distinct(periods.begin(), periods.end());
  int below = 0;
  for (absl::Duration d : periods) below += d < absl::Seconds(10) ? 1 : 0;

  BOOST_TEST(*lo < absl::Seconds(6));
  BOOST_TEST(*hi > absl::Seconds(14));
  BOOST_TEST(distinct.size() > 450u);
  BOOST_TEST(below > 150);  // uniform: about half below the middle
  BOOST_TEST(below < 350);
}

BOOST_AUTO_TEST_CASE(AFixedSeedRepeatsThePeriods) {
  BOOST_TEST(FirstPeriods(7, 50, JitterOptions()) ==
                 FirstPeriods(7, 50, JitterOptions()),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(AnotherSeedGivesOtherPeriods) {
  bool same = FirstPeriods(7, 50, JitterOptions()) ==
              FirstPeriods(8, 50, JitterOptions());

  BOOST_TEST(!same);
}

BOOST_AUTO_TEST_CASE(EachTripOfAPeerGetsItsOwnJitter) {
  ManualClock clock;
  auto set = MakeSet(JitterOptions(), clock, /*seed=*/3);
  std::set<absl::Duration> periods;

  Fail(*set, "p");
  periods.insert(OpenPeriod(*set, "p", clock.now()));
  for (int i = 0; i < 20; ++i) {
    clock.set(set->snapshot("p")->open_until);
    set->context("p").fail();
    periods.insert(OpenPeriod(*set, "p", clock.now()));
  }

  BOOST_TEST(periods.size() > 15u);
}

BOOST_AUTO_TEST_CASE(JitterSpreadsTheCappedPeriod) {
  BreakerOptions o = JitterOptions();
  o.backoff_multiplier = 4;
  o.max_reset_timeout = absl::Seconds(20);
  ManualClock clock;
  auto set = MakeSet(o, clock, /*seed=*/5);
  Fail(*set, "p");

  for (int i = 0; i < 30; ++i) {
    clock.set(set->snapshot("p")->open_until);
    set->context("p").fail();
    absl::Duration d = OpenPeriod(*set, "p", clock.now());
    BOOST_TEST(d >= absl::Seconds(10));  // 20 s - 50%
    BOOST_TEST(d <= absl::Seconds(30));  // 20 s + 50%
  }
}

BOOST_AUTO_TEST_CASE(ZeroJitterIsExact) {
  BreakerOptions o = JitterOptions();
  o.jitter = 0;

  for (absl::Duration d : FirstPeriods(42, 20, o)) {
    BOOST_TEST(d == absl::Seconds(10));
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Every new option: a bad value is kInvalidArgument naming the field, from
// validate(), from the set's constructor and from configure().
BOOST_AUTO_TEST_SUITE(PolicyOptionsTest)

namespace {

struct BadValue {
  const char* field;
  void (*apply)(BreakerOptions&);
};

std::ostream& operator<<(std::ostream& os, const BadValue& b) {
  return os << b.field;
}

const BadValue kBadValues[] = {
    {"consecutive_failures", [](BreakerOptions& o) { o.consecutive_failures = -1; }},
    {"failure_rate_threshold", [](BreakerOptions& o) { o.failure_rate_threshold = -0.1; }},
    {"failure_rate_threshold", [](BreakerOptions& o) { o.failure_rate_threshold = 1.01; }},
    {"failure_rate_threshold",
     [](BreakerOptions& o) { o.failure_rate_threshold = std::nan(""); }},
    {"minimum_calls", [](BreakerOptions& o) { o.minimum_calls = 0; }},
    {"minimum_calls", [](BreakerOptions& o) { o.minimum_calls = -5; }},
    {"window_buckets", [](BreakerOptions& o) { o.window_buckets = 0; }},
    {"window_buckets", [](BreakerOptions& o) { o.window_buckets = -1; }},
    {"window_buckets", [](BreakerOptions& o) { o.window_buckets = 1001; }},
    {"slow_call_duration",
     [](BreakerOptions& o) { o.slow_call_duration = -absl::Nanoseconds(1); }},
    {"slow_call_duration",
     [](BreakerOptions& o) { o.slow_call_duration = absl::InfiniteDuration(); }},
    {"slow_call_rate_threshold",
     [](BreakerOptions& o) {
       o.slow_call_duration = absl::Seconds(1);
       o.slow_call_rate_threshold = 1.5;
     }},
    {"slow_call_rate_threshold",
     [](BreakerOptions& o) {
       o.slow_call_duration = absl::Seconds(1);
       o.slow_call_rate_threshold = -0.5;
     }},
    {"slow_call_rate_threshold",  // a rate without a duration never fires
     [](BreakerOptions& o) { o.slow_call_rate_threshold = 0.5; }},
    {"backoff_multiplier", [](BreakerOptions& o) { o.backoff_multiplier = 0.99; }},
    {"backoff_multiplier", [](BreakerOptions& o) { o.backoff_multiplier = 0; }},
    {"backoff_multiplier",
     [](BreakerOptions& o) { o.backoff_multiplier = std::nan(""); }},
    {"backoff_multiplier",
     [](BreakerOptions& o) { o.backoff_multiplier = HUGE_VAL; }},
    {"max_reset_timeout",
     [](BreakerOptions& o) {
       o.max_reset_timeout = o.reset_timeout - absl::Nanoseconds(1);
     }},
    {"max_reset_timeout",
     [](BreakerOptions& o) { o.max_reset_timeout = -absl::Seconds(1); }},
    {"jitter", [](BreakerOptions& o) { o.jitter = -0.01; }},
    {"jitter", [](BreakerOptions& o) { o.jitter = 1; }},
    {"jitter", [](BreakerOptions& o) { o.jitter = std::nan(""); }},
    {"max_failures", [](BreakerOptions& o) { o.max_failures = -1; }},
};

}  // namespace

BOOST_DATA_TEST_CASE(ValidateNamesTheBadField, bdata::make(kBadValues), bad) {
  BreakerOptions o;
  bad.apply(o);

  absl::Status s = o.validate();

  BOOST_TEST(absl::IsInvalidArgument(s));
  BOOST_TEST(absl::StrContains(s.message(), bad.field), s.message());
}

BOOST_DATA_TEST_CASE(TheSetRefusesTheBadField, bdata::make(kBadValues), bad) {
  SetOptions options;
  bad.apply(options.defaults);

  BOOST_CHECK_EXCEPTION(CircuitBreakerSet{options}, std::invalid_argument,
                        [&](const std::invalid_argument& e) {
                          return absl::StrContains(e.what(), bad.field);
                        });
}

BOOST_DATA_TEST_CASE(ConfigureRefusesTheBadField, bdata::make(kBadValues), bad) {
  CircuitBreakerSet set;
  BreakerOptions o;
  bad.apply(o);

  BOOST_CHECK_EXCEPTION(set.configure("p", o), std::invalid_argument,
                        [&](const std::invalid_argument& e) {
                          return absl::StrContains(e.what(), bad.field);
                        });
  BOOST_TEST(set.size() == 0u);
}

BOOST_AUTO_TEST_CASE(EdgeValuesAreAccepted) {
  BreakerOptions o;
  o.consecutive_failures = 0;
  o.failure_rate_threshold = 1;
  o.minimum_calls = 1;
  o.window_buckets = 1000;
  o.slow_call_duration = absl::Nanoseconds(1);
  o.slow_call_rate_threshold = 1;
  o.backoff_multiplier = 1;
  o.max_reset_timeout = o.reset_timeout;
  o.jitter = 0.999;

  BOOST_TEST(o.validate().ok(), o.validate().ToString());
}

BOOST_AUTO_TEST_CASE(TheDefaultsTurnEveryNewRuleOff) {
  BreakerOptions o;

  BOOST_TEST(o.consecutive_failures == 0);
  BOOST_TEST(o.failure_rate_threshold == 0);
  BOOST_TEST(o.slow_call_duration == absl::ZeroDuration());
  BOOST_TEST(o.slow_call_rate_threshold == 0);
  BOOST_TEST(o.backoff_multiplier == 1);
  BOOST_TEST(o.jitter == 0);
  BOOST_TEST(o.minimum_calls == 20);
  BOOST_TEST(o.window_buckets == 10);
  BOOST_TEST(o.validate().ok());
}

BOOST_AUTO_TEST_CASE(SetLevelBadValuesNameTheirField) {
  SetOptions idle;
  idle.idle_timeout = -absl::Seconds(1);
  SetOptions codes;
  codes.failure_codes = {absl::StatusCode::kUnavailable, absl::StatusCode::kOk};

  BOOST_TEST(absl::StrContains(idle.validate().message(), "idle_timeout"));
  BOOST_TEST(absl::StrContains(codes.validate().message(), "failure_codes"));
  BOOST_CHECK_THROW(CircuitBreakerSet{idle}, std::invalid_argument);
  BOOST_CHECK_THROW(CircuitBreakerSet{codes}, std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
