// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The trip rules and the open-period backoff of DESIGN.md section 2.1, each
// at its edges on a ManualClock: consecutive failures, the failure-rate and
// slow-call-rate rules over their bucketed window, `kUnlimited`, backoff with
// its cap, jitter and the decay of trips in a row. (Their options' bad and
// edge values: options_test.)
//
// The rules are tables of scenarios: a row is a sequence of calls and clock
// moves on one peer with the state it must end in, and the rows of a rule
// stand just before, at and just after each of its edges.

#include <algorithm>
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
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

// Options with every rule off, so a test turns on just the one it checks.
BreakerOptions NoRules() {
  BreakerOptions o;
  o.max_failures = kUnlimited;
  return o;
}

// The window rule's defaults but the first failure opens a peer, for
// `reset` (before any backoff).
BreakerOptions OpensFor(absl::Duration reset) {
  BreakerOptions o;
  o.max_failures = 0;
  o.reset_timeout = reset;
  return o;
}

// Backoff: reset 10 s, times `multiplier` per trip in a row, up to `cap`.
BreakerOptions BackoffOptions(double multiplier = 2,
                              absl::Duration cap = absl::Seconds(35)) {
  BreakerOptions o = OpensFor(absl::Seconds(10));
  o.backoff_multiplier = multiplier;
  o.max_reset_timeout = cap;
  o.time_unit = absl::Hours(1);
  return o;
}

// Decay: 1 s doubled per trip in a row; the count falls per 100 s closed.
BreakerOptions DecayOptions() {
  BreakerOptions o = OpensFor(absl::Seconds(1));
  o.backoff_multiplier = 2;
  o.time_unit = absl::Seconds(100);
  return o;
}

// Jitter: +/- 50% of 10 s.
BreakerOptions JitterOptions() {
  BreakerOptions o = OpensFor(absl::Seconds(10));
  o.jitter = 0.5;
  return o;
}

// A clock, and the set a test makes on it with the options it checks.
struct PolicyFixture {
  CircuitBreakerSet& Make(const BreakerOptions& defaults, std::uint64_t seed = 1) {
    SetOptions options = ManualOptions(&clock, defaults);
    options.random_seed = seed;
    set = std::make_unique<CircuitBreakerSet>(options);
    return *set;
  }

  ManualClock clock;
  std::unique_ptr<CircuitBreakerSet> set;
};

// A call that takes `d` on `clock` and then succeeds.
void SucceedAfter(CircuitBreakerSet& set, ManualClock& clock,
                  std::string_view peer, absl::Duration d) {
  Context ctx = set.context(peer);
  clock.advance(d);
  ctx.succeed();
}

// How long the peer's current open period lasts from `opened_at`.
absl::Duration OpenPeriod(const CircuitBreakerSet& set, std::string_view peer,
                          absl::Time opened_at) {
  return SnapshotOf(set, peer).open_until - opened_at;
}

// ---------------------------------------------------------------------------
// Scenarios on the peer "p".

// One step: `n` calls of one kind, a clock move, a manual close, or a check.
struct Step {
  enum Kind {
    // Calls:
    kFail,         // n failures, `d` apart (the clock moves after each)
    kSucceed,      // n successes
    kIgnore,       // n ignored outcomes
    kSlowSuccess,  // n successes of calls that take `d` each
    kSlowFailure,  // n failures of calls that take `d` each
    // Once:
    kAdvance,         // the clock moves by `d`
    kClose,           // close("p")
    kExpectState,     // the state is `state`
    kExpectFailures,  // the snapshot counts `n` failures in all
    kExpectRun,       // the snapshot's run of consecutive failures is `n`
  };
  Kind kind;
  int n = 1;
  absl::Duration d = absl::ZeroDuration();
  State state = State::kClosed;
};

Step Fails(int n = 1) { return {Step::kFail, n}; }
Step FailsApart(int n, absl::Duration gap) { return {Step::kFail, n, gap}; }
Step Succeeds(int n = 1) { return {Step::kSucceed, n}; }
Step Ignores(int n) { return {Step::kIgnore, n}; }
Step SlowSuccesses(int n, absl::Duration d) { return {Step::kSlowSuccess, n, d}; }
Step SlowFailures(int n, absl::Duration d) { return {Step::kSlowFailure, n, d}; }
Step Advance(absl::Duration d) { return {Step::kAdvance, 0, d}; }
Step Close() { return {Step::kClose}; }
Step Is(State s) { return {Step::kExpectState, 0, absl::ZeroDuration(), s}; }
Step Counted(int failures) { return {Step::kExpectFailures, failures}; }
Step InARow(int run) { return {Step::kExpectRun, run}; }

struct Scenario {
  std::string name;
  BreakerOptions options;
  std::vector<Step> steps;
  State ends_in;
};

std::ostream& operator<<(std::ostream& os, const Scenario& s) {
  return os << s.name;
}

// Runs `scenario` on a fresh set on a clock at the epoch; checks every
// expectation on the way and the final state.
void Play(const Scenario& scenario) {
  PolicyFixture f;
  CircuitBreakerSet& set = f.Make(scenario.options);
  for (std::size_t i = 0; i < scenario.steps.size(); ++i) {
    const Step& step = scenario.steps[i];
    BOOST_TEST_CONTEXT("step " << i) {
      const bool calls = step.kind <= Step::kSlowFailure;
      for (int k = 0; calls && k < step.n; ++k) {
        switch (step.kind) {
          case Step::kFail:
            Fail(set, "p");
            f.clock.advance(step.d);
            break;
          case Step::kSucceed:
            Succeed(set, "p");
            break;
          case Step::kIgnore:
            set.context("p").ignore();
            break;
          case Step::kSlowSuccess:
            SucceedAfter(set, f.clock, "p", step.d);
            break;
          case Step::kSlowFailure: {
            Context ctx = set.context("p");
            f.clock.advance(step.d);
            ctx.fail();
            break;
          }
          default:
            break;
        }
      }
      switch (step.kind) {
        case Step::kAdvance:
          f.clock.advance(step.d);
          break;
        case Step::kClose:
          set.close("p");
          break;
        case Step::kExpectState:
          BOOST_TEST(set.state("p") == step.state);
          break;
        case Step::kExpectFailures:
          BOOST_TEST(SnapshotOf(set, "p").failures ==
                     static_cast<std::uint64_t>(step.n));
          break;
        case Step::kExpectRun:
          BOOST_TEST(SnapshotOf(set, "p").consecutive_failures == step.n);
          break;
        default:
          break;
      }
    }
  }
  BOOST_TEST(set.state("p") == scenario.ends_in);
}

constexpr State kClosed = State::kClosed;
constexpr State kOpen = State::kOpen;
const absl::Duration kNs = absl::Nanoseconds(1);

// The consecutive-failure rule alone, at `run`.
BreakerOptions Run(int run) {
  BreakerOptions o = NoRules();
  o.consecutive_failures = run;
  return o;
}

// Failure rate: `threshold` over at least 10 calls, a 10 s window of
// `buckets` buckets.
BreakerOptions Rate(double threshold = 0.5, int buckets = 10) {
  BreakerOptions o = NoRules();
  o.failure_rate_threshold = threshold;
  o.minimum_calls = 10;
  o.time_unit = absl::Seconds(10);
  o.window_buckets = buckets;
  return o;
}

// Slow calls: longer than 1 s is slow; `threshold` over at least
// `minimum_calls` calls within `time_unit`.
BreakerOptions Slow(double threshold = 0.5, int minimum_calls = 4,
                    absl::Duration time_unit = absl::Seconds(60)) {
  BreakerOptions o = NoRules();
  o.slow_call_duration = absl::Seconds(1);
  o.slow_call_rate_threshold = threshold;
  o.minimum_calls = minimum_calls;
  o.time_unit = time_unit;
  return o;
}

// The window rule's defaults (3 failures within 60 s) with a run of `run`.
BreakerOptions WindowAndRun(int run) {
  BreakerOptions o;
  o.consecutive_failures = run;
  return o;
}

const std::vector<Scenario> kConsecutiveFailures = {
    {"StaysClosedBelowTheRun 0", Run(5), {Fails(0)}, kClosed},
    {"StaysClosedBelowTheRun 1", Run(5), {Fails(1)}, kClosed},
    {"StaysClosedBelowTheRun 2", Run(5), {Fails(2)}, kClosed},
    {"StaysClosedBelowTheRun 3", Run(5), {Fails(3)}, kClosed},
    {"StaysClosedBelowTheRun 4", Run(5), {Fails(4)}, kClosed},
    {"OpensOnTheNthFailureInARow", Run(5), {Fails(4), Fails()}, kOpen},
    {"ASuccessResetsTheRun",
     Run(3),
     {Fails(2), Succeeds(), Fails(2), Is(kClosed), InARow(2), Fails()},
     kOpen},
    {"AnIgnoredOutcomeNeitherCountsNorResetsTheRun",
     Run(3),
     {Fails(2), Ignores(1), Is(kClosed), Fails()},
     kOpen},
    {"TheRunIgnoresTime",
     Run(2),
     {Fails(), Advance(absl::Hours(24 * 365)), Fails()},
     kOpen},
    // The run of 2 fires before the window's 4th failure.
    {"FiresAlongsideTheWindowRuleWhicheverComesFirst",
     WindowAndRun(2),
     {Fails(), Advance(absl::Seconds(1)), Fails()},
     kOpen},
    {"UnlimitedTurnsTheWindowRuleOff", NoRules(), {Fails(1000), Counted(1000)}, kClosed},
};

// Nine failures at t = 0 and the tenth at t: the window is the last 10 s in
// whole 1 s buckets, so the t = 0 bucket falls out at t = 10 s.
const std::vector<Scenario> kFailureRate = {
    {"StaysClosedJustBelowTheRate", Rate(), {Succeeds(6), Fails(4)}, kClosed},
    {"OpensAtTheRate", Rate(), {Succeeds(5), Fails(4), Is(kClosed), Fails()}, kOpen},
    // 5 / 10 and 6 / 11 = 0.545... stay below 0.55; 7 / 12 = 0.583... opens.
    {"OpensJustAboveTheRate",
     Rate(0.55),
     {Succeeds(5), Fails(5), Is(kClosed), Fails(), Is(kClosed), Fails()},
     kOpen},
    {"NeedsMinimumCallsInTheWindow 1", Rate(), {Fails(1)}, kClosed},
    {"NeedsMinimumCallsInTheWindow 2", Rate(), {Fails(2)}, kClosed},
    {"NeedsMinimumCallsInTheWindow 3", Rate(), {Fails(3)}, kClosed},
    {"NeedsMinimumCallsInTheWindow 4", Rate(), {Fails(4)}, kClosed},
    {"NeedsMinimumCallsInTheWindow 5", Rate(), {Fails(5)}, kClosed},
    {"NeedsMinimumCallsInTheWindow 6", Rate(), {Fails(6)}, kClosed},
    {"NeedsMinimumCallsInTheWindow 7", Rate(), {Fails(7)}, kClosed},
    {"NeedsMinimumCallsInTheWindow 8", Rate(), {Fails(8)}, kClosed},
    {"NeedsMinimumCallsInTheWindow 9", Rate(), {Fails(9)}, kClosed},
    {"OpensOnTheMinimumCall", Rate(), {Fails(9), Fails()}, kOpen},
    {"ThresholdOneNeedsEveryCallToFail", Rate(1), {Succeeds(), Fails(50)}, kClosed},
    {"IgnoredOutcomesAreNotCalls", Rate(), {Ignores(20), Fails(9)}, kClosed},
    {"OldBucketsFallOutOfTheWindow 9s",
     Rate(),
     {Fails(9), Advance(absl::Seconds(9)), Fails()},
     kOpen},
    {"OldBucketsFallOutOfTheWindow 10s-1ns",
     Rate(),
     {Fails(9), Advance(absl::Seconds(10) - kNs), Fails()},
     kOpen},
    {"OldBucketsFallOutOfTheWindow 10s",
     Rate(),
     {Fails(9), Advance(absl::Seconds(10)), Fails()},
     kClosed},
    {"OldBucketsFallOutOfTheWindow 10s+1ns",
     Rate(),
     {Fails(9), Advance(absl::Seconds(10) + kNs), Fails()},
     kClosed},
    // 9.1 s after failures late in the [0, 1 s) bucket, which began 10 s ago.
    {"BucketsFallOutWhole",
     Rate(),
     {Advance(absl::Milliseconds(900)), Fails(9), Advance(absl::Milliseconds(9100)),
      Fails()},
     kClosed},
    // One failure in each bucket; at t = 9 s all ten hold one.
    {"CallsSpreadOverTheWindowAddUp",
     Rate(),
     {FailsApart(9, absl::Seconds(1)), Is(kClosed), Fails()},
     kOpen},
    {"OneBucketForgetsEverythingAtOnce",
     Rate(0.5, /*buckets=*/1),
     {Fails(9), Advance(absl::Seconds(10)), Fails()},
     kClosed},
    // t = 20 s maps onto the t = 0 bucket's ring slot, a turn later.
    {"ABucketReusedAfterAFullTurnStartsEmpty",
     Rate(),
     {Fails(9), Advance(absl::Seconds(20)), Fails()},
     kClosed},
    {"CloseClearsTheRateWindow", Rate(), {Fails(9), Close(), Fails()}, kClosed},
};

const absl::Duration kJustOver = absl::Seconds(1) + kNs;

const std::vector<Scenario> kSlowCallRate = {
    {"ACallOfExactlyTheDurationIsNotSlow",
     Slow(),
     {SlowSuccesses(10, absl::Seconds(1))},
     kClosed},
    // 1 slow of 3 calls, then 2 slow of 4 reaches 0.5; no failure counted.
    {"ASlowSuccessCountsAsSlow",
     Slow(),
     {Succeeds(2), SlowSuccesses(1, kJustOver), Is(kClosed),
      SlowSuccesses(1, kJustOver), Counted(0)},
     kOpen},
    {"StaysClosedJustBelowTheSlowRate",
     Slow(),
     {Succeeds(3), SlowSuccesses(1, absl::Seconds(2)), Succeeds()},
     kClosed},
    {"NeedsMinimumCalls",
     Slow(),
     {SlowSuccesses(3, absl::Seconds(5)), Is(kClosed), SlowSuccesses(1, absl::Seconds(5))},
     kOpen},
    {"ASlowFailureCountsAsSlow",
     Slow(),
     {Succeeds(2), SlowFailures(2, absl::Seconds(3))},
     kOpen},
    {"SlowCallsNeverTripWithoutTheRateThreshold",
     Slow(/*threshold=*/0),
     {SlowSuccesses(10, absl::Seconds(5))},
     kClosed},
    // The clock reads absl::UnixEpoch(), zero nanoseconds, at the start.
    {"ACallStartedAtTheClocksZeroIsTimed",
     Slow(0.5, /*minimum_calls=*/1),
     {SlowSuccesses(1, absl::Seconds(5))},
     kOpen},
    // Settled at 2, 4 and 6 s; at 16 s those buckets are gone.
    {"SlowCallsFallOutOfTheWindow",
     Slow(0.5, 4, /*time_unit=*/absl::Seconds(10)),
     {SlowSuccesses(3, absl::Seconds(2)), Advance(absl::Seconds(10)),
      SlowSuccesses(1, absl::Seconds(2))},
     kClosed},
};

}  // namespace

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(ConsecutiveFailuresTest)

BOOST_DATA_TEST_CASE(EndsInItsState, bdata::make(kConsecutiveFailures), scenario) {
  Play(scenario);
}

BOOST_FIXTURE_TEST_CASE(OneBelowUnlimitedIsStillAWindowRule, PolicyFixture) {
  BreakerOptions o;
  o.max_failures = kUnlimited - 1;

  BOOST_TEST(o.validate().ok());
  // Not run to its threshold (2^31 failures); the set accepts it.
  BOOST_CHECK_NO_THROW(Make(o));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(FailureRateTest)

BOOST_DATA_TEST_CASE(EndsInItsState, bdata::make(kFailureRate), scenario) {
  Play(scenario);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(SlowCallRateTest, PolicyFixture)

namespace {
// Admits `n` calls to `peer` with the slow-call rule off, then turns it on
// (over 2 s is slow, at half the calls, minimum_calls at its default of
// 20); returns the calls, still in flight and untimed.
std::vector<Context> AdmitThenTurnTheRuleOn(CircuitBreakerSet& set,
                                            std::string_view peer, int n) {
  std::vector<Context> in_flight;
  for (int i = 0; i < n; ++i) in_flight.push_back(set.context(peer));
  BreakerOptions o;
  o.slow_call_duration = absl::Seconds(2);
  o.slow_call_rate_threshold = 0.5;
  set.configure(peer, o);
  return in_flight;
}

// Calls admitted before the rule was turned on were not timed: they are not
// slow, and nothing trips when they end.
void ExpectNoTripFromCallsInFlight(CircuitBreakerSet& set) {
  for (Context& ctx : AdmitThenTurnTheRuleOn(set, "p", 30)) ctx.succeed();

  BOOST_TEST(set.state("p") == State::kClosed);
  BOOST_TEST(SnapshotOf(set, "p").trips == 0u);
}
}  // namespace

BOOST_DATA_TEST_CASE(EndsInItsState, bdata::make(kSlowCallRate), scenario) {
  Play(scenario);
}

BOOST_AUTO_TEST_CASE(TurningTheRuleOnDoesNotMakeCallsInFlightSlow) {
  clock.advance(absl::Hours(1));  // far from the clock's zero
  ExpectNoTripFromCallsInFlight(Make(BreakerOptions{}));
}

BOOST_AUTO_TEST_CASE(TurningTheRuleOnDoesNotMakeCallsInFlightSlowOnTheRealClock) {
  CircuitBreakerSet real_clock;
  ExpectNoTripFromCallsInFlight(real_clock);
}

// Untimed calls are not slow, but they count as calls.
BOOST_AUTO_TEST_CASE(UntimedCallsCountAsCallsForTheRate) {
  clock.advance(absl::Hours(1));
  Make(BreakerOptions{});
  for (Context& ctx : AdmitThenTurnTheRuleOn(*set, "p", 30)) ctx.succeed();
  std::vector<Context> slow;
  for (int i = 0; i < 30; ++i) slow.push_back(set->context("p"));
  clock.advance(absl::Seconds(3));

  for (int i = 0; i < 29; ++i) slow[i].succeed();  // 29 slow of 59 calls
  BOOST_TEST(set->state("p") == State::kClosed);
  slow[29].succeed();  // 30 of 60: reaches 0.5

  BOOST_TEST(set->state("p") == State::kOpen);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Backoff: reset 10 s, doubled per trip in a row, capped at 35 s.
BOOST_FIXTURE_TEST_SUITE(BackoffTest, PolicyFixture)

namespace {

// Waits out the open period (exactly) and fails the probe; returns the time
// the breaker re-opened.
absl::Time FailProbeAtTheEdge(CircuitBreakerSet& set, ManualClock& clock,
                              std::string_view peer) {
  clock.set(SnapshotOf(set, peer).open_until);
  Context probe = set.context(peer);
  BOOST_REQUIRE(probe.probe());
  probe.fail();
  return clock.now();
}

// A multiplier and a cap, and the open periods of the first trips in a row.
struct Growth {
  double multiplier;
  absl::Duration cap;
  std::vector<absl::Duration> periods;
};

std::ostream& operator<<(std::ostream& os, const Growth& g) {
  return os << "x" << g.multiplier << " up to " << g.cap;
}

const std::vector<Growth> kGrowth = {
    {2, absl::Seconds(35),
     {absl::Seconds(10), absl::Seconds(20), absl::Seconds(35), absl::Seconds(35),
      absl::Seconds(35)}},
    {1, absl::Seconds(35), {absl::Seconds(10), absl::Seconds(10), absl::Seconds(10)}},
    {1.5, absl::InfiniteDuration(),
     {absl::Seconds(10), absl::Seconds(15), absl::Milliseconds(22500)}},
};
}  // namespace

// Each probe fails exactly at the end of the open period before it.
BOOST_DATA_TEST_CASE_F(PolicyFixture, TheOpenPeriodGrowsByTheMultiplierUpToTheCap,
                       bdata::make(kGrowth), growth) {
  Make(BackoffOptions(growth.multiplier, growth.cap));
  Fail(*set, "p");
  std::vector<absl::Duration> periods = {OpenPeriod(*set, "p", clock.now())};

  while (periods.size() < growth.periods.size()) {
    absl::Time opened = FailProbeAtTheEdge(*set, clock, "p");
    periods.push_back(OpenPeriod(*set, "p", opened));
  }

  BOOST_TEST(periods == growth.periods, boost::test_tools::per_element());
  BOOST_TEST(SnapshotOf(*set, "p").trips_in_a_row ==
             static_cast<int>(growth.periods.size()));
}

// The second open period (20 s) at its edges.
BOOST_DATA_TEST_CASE_F(PolicyFixture, TheBackedOffPeriodEndsExactly,
                       bdata::make({absl::Seconds(20) - kNs, absl::Seconds(20),
                                    absl::Seconds(20) + kNs}) ^
                           bdata::make({false, true, true}),
                       wait, admits) {
  Make(BackoffOptions());
  Fail(*set, "p");
  absl::Time reopened = FailProbeAtTheEdge(*set, clock, "p");

  clock.set(reopened + wait);
  absl::StatusOr<Context> ctx = set->try_context("p");

  BOOST_TEST(ctx.ok() == admits);
  if (!admits) BOOST_TEST(absl::IsUnavailable(ctx.status()));
}

BOOST_AUTO_TEST_CASE(RetryAfterReportsTheBackedOffPeriod) {
  Make(BackoffOptions());
  Fail(*set, "p");
  FailProbeAtTheEdge(*set, clock, "p");

  clock.advance(absl::Seconds(5));

  BOOST_TEST(RetryAfter(*set, "p") == absl::Seconds(15));
}

BOOST_AUTO_TEST_CASE(AProbeSuccessKeepsTheCountForTheNextTrip) {
  Make(BackoffOptions());
  Fail(*set, "p");
  clock.set(SnapshotOf(*set, "p").open_until);
  Succeed(*set, "p");  // the probe closes it
  BOOST_REQUIRE(set->state("p") == State::kClosed);

  Fail(*set, "p");  // at once: no closed time to decay the count

  BOOST_TEST(OpenPeriod(*set, "p", clock.now()) == absl::Seconds(20));
}

BOOST_AUTO_TEST_CASE(CloseResetsTheBackoff) {
  Make(BackoffOptions());
  Fail(*set, "p");
  FailProbeAtTheEdge(*set, clock, "p");
  FailProbeAtTheEdge(*set, clock, "p");

  set->close("p");
  Fail(*set, "p");

  BOOST_TEST(OpenPeriod(*set, "p", clock.now()) == absl::Seconds(10));
  BOOST_TEST(SnapshotOf(*set, "p").trips_in_a_row == 1);
}

BOOST_AUTO_TEST_CASE(AHugeCountSaturatesInsteadOfOverflowing) {
  Make(BackoffOptions(1000, absl::InfiniteDuration()));
  Fail(*set, "p");

  for (int i = 0; i < 3; ++i) FailProbeAtTheEdge(*set, clock, "p");

  // 10 s * 1000^3 = 10^10 s is past what int64 nanoseconds hold.
  BOOST_TEST(set->state("p") == State::kOpen);
  BOOST_TEST(SnapshotOf(*set, "p").open_until > clock.now() + absl::Hours(1e6));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Decay: trips in a row drop by one per full time_unit spent closed.
BOOST_FIXTURE_TEST_SUITE(DecayTest, PolicyFixture)

namespace {

// Trips `trips` times in a row, then closes through a probe; returns the
// time it closed.
absl::Time TripThenRecover(CircuitBreakerSet& set, ManualClock& clock,
                           std::string_view peer, int trips) {
  Fail(set, peer);
  for (int i = 1; i < trips; ++i) {
    clock.set(SnapshotOf(set, peer).open_until);
    Fail(set, peer);
  }
  clock.set(SnapshotOf(set, peer).open_until);
  Succeed(set, peer);
  BOOST_REQUIRE(set.state(peer) == State::kClosed);
  return clock.now();
}
}  // namespace

// Two trips in a row, then closed for `closed`; the next trip's period says
// how many trips in a row it counts (1 s, 2 s, 4 s for 1, 2, 3).
BOOST_DATA_TEST_CASE_F(
    PolicyFixture, TheCountFallsByOnePerFullTimeUnitClosed,
    bdata::make({absl::ZeroDuration(), absl::Seconds(100) - kNs, absl::Seconds(100),
                 absl::Seconds(200) - kNs, absl::Seconds(200), absl::Seconds(1000)}) ^
        bdata::make({4, 4, 2, 2, 1, 1}),
    closed, expected_seconds) {
  Make(DecayOptions());
  absl::Time closed_at = TripThenRecover(*set, clock, "p", /*trips=*/2);

  clock.set(closed_at + closed);
  Fail(*set, "p");

  BOOST_TEST(OpenPeriod(*set, "p", clock.now()) == absl::Seconds(expected_seconds));
}

BOOST_AUTO_TEST_CASE(TimeOpenDoesNotDecayTheCount) {
  BreakerOptions o = DecayOptions();
  o.reset_timeout = absl::Seconds(500);  // open for 5 time units
  Make(o);
  Fail(*set, "p");
  clock.advance(absl::Seconds(500));

  Fail(*set, "p");  // the probe fails: second trip in a row

  BOOST_TEST(OpenPeriod(*set, "p", clock.now()) == absl::Seconds(1000));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Jitter: +/- 50% of 10 s, seeded.
BOOST_FIXTURE_TEST_SUITE(JitterTest, PolicyFixture)

namespace {

// The first open period of each of `peers` peers.
std::vector<absl::Duration> FirstPeriods(std::uint64_t seed, int peers,
                                         const BreakerOptions& o) {
  PolicyFixture f;
  f.Make(o, seed);
  std::vector<absl::Duration> out;
  for (int i = 0; i < peers; ++i) {
    std::string peer = "peer-" + std::to_string(i);
    Fail(*f.set, peer);
    out.push_back(OpenPeriod(*f.set, peer, f.clock.now()));
  }
  return out;
}

// The open periods of `trips` trips in a row of "p", each probe failing
// exactly at the end of the period before.
std::vector<absl::Duration> PeriodsInARow(PolicyFixture& f, int trips) {
  std::vector<absl::Duration> out;
  Fail(*f.set, "p");
  out.push_back(OpenPeriod(*f.set, "p", f.clock.now()));
  while (static_cast<int>(out.size()) < trips) {
    f.clock.set(SnapshotOf(*f.set, "p").open_until);
    Fail(*f.set, "p");
    out.push_back(OpenPeriod(*f.set, "p", f.clock.now()));
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
  Make(JitterOptions(), /*seed=*/3);

  std::vector<absl::Duration> periods = PeriodsInARow(*this, 21);

  BOOST_TEST(std::set<absl::Duration>(periods.begin(), periods.end()).size() > 15u);
}

BOOST_AUTO_TEST_CASE(JitterSpreadsTheCappedPeriod) {
  BreakerOptions o = JitterOptions();
  o.backoff_multiplier = 4;
  o.max_reset_timeout = absl::Seconds(20);
  Make(o, /*seed=*/5);

  std::vector<absl::Duration> periods = PeriodsInARow(*this, 31);

  for (std::size_t i = 1; i < periods.size(); ++i) {
    BOOST_TEST(periods[i] >= absl::Seconds(10));  // 20 s - 50%
    BOOST_TEST(periods[i] <= absl::Seconds(30));  // 20 s + 50%
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

}  // namespace circuit::testing
