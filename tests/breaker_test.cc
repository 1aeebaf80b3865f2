// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// One peer's state machine (src/breaker.h), driven directly on a
// ManualClock: no set, no table, no threads.

#include "breaker.h"

#include <cstdint>
#include <memory>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/time/time.h"
#include "circuit/clock.h"
#include "circuit/options.h"
#include "circuit/state.h"

namespace bdata = boost::unit_test::data;

using circuit::BreakerOptions;
using circuit::ManualClock;
using circuit::State;
using circuit::internal::Breaker;
using circuit::internal::Decision;
using circuit::internal::Outcome;
using circuit::internal::Policy;
using circuit::internal::Settled;
using circuit::internal::Transition;

namespace {

std::unique_ptr<Policy> MakePolicy(const BreakerOptions& o) {
  absl::StatusOr<std::unique_ptr<Policy>> p =
      Policy::Make(o, /*seed=*/1);
  BOOST_REQUIRE(p.ok());
  return *std::move(p);
}

// A breaker with its policy, on its own clock. Time starts at 0.
struct Harness {
  explicit Harness(BreakerOptions o)
      : policy(MakePolicy(o)), breaker(policy.get(), 42) {
    breaker.SetPolicy(policy.get());  // sizes the failure history
  }

  Decision Admit() { return breaker.Admit(clock); }

  Settled Settle(const Decision& d, Outcome outcome) {
    return breaker.Settle(d.generation, d.probe, outcome, 0, clock);
  }

  // Admits a call and records `outcome` for it at once.
  Settled Call(Outcome outcome) {
    Decision d = Admit();
    BOOST_REQUIRE(d.admitted);
    return Settle(d, outcome);
  }

  Settled Fail() { return Call(Outcome::kFailure); }

  State state() const { return breaker.EffectiveState(clock); }

  void At(absl::Duration t) { clock.set(absl::UnixEpoch() + t); }

  // Opens the breaker at the current time with max_failures + 1 failures.
  void Trip() {
    while (state() == State::kClosed) Fail();
    BOOST_REQUIRE(state() == State::kOpen);
  }

  ManualClock clock;
  std::unique_ptr<Policy> policy;
  Breaker breaker;
};

BreakerOptions Window(int max_failures, absl::Duration time_unit,
                      absl::Duration reset_timeout = absl::Seconds(10)) {
  BreakerOptions o;
  o.max_failures = max_failures;
  o.time_unit = time_unit;
  o.reset_timeout = reset_timeout;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(BreakerTest)

// ---------------------------------------------------------------------------
// The window rule

BOOST_AUTO_TEST_CASE(NewBreakerIsClosedAndAdmitsWithoutAProbeSlot) {
  Harness h{BreakerOptions{}};

  Decision d = h.Admit();

  BOOST_TEST(d.admitted);
  BOOST_TEST(!d.probe);
  BOOST_TEST(!d.transition.happened);
  BOOST_TEST(h.state() == State::kClosed);
}

BOOST_AUTO_TEST_CASE(DefaultWindowStaysClosedAtZeroOneTwoAndOpensAtThree) {
  Harness h{BreakerOptions{}};

  for (int s : {0, 1, 2}) {
    h.At(absl::Seconds(s));
    Settled r = h.Fail();
    BOOST_TEST(!r.transition.happened);
    BOOST_TEST(h.state() == State::kClosed);
  }
  h.At(absl::Seconds(3));
  Settled r = h.Fail();

  BOOST_TEST(r.transition.happened);
  BOOST_TEST(r.transition.from == State::kClosed);
  BOOST_TEST(r.transition.to == State::kOpen);
  BOOST_TEST(r.transition.open_for_ns == absl::ToInt64Nanoseconds(absl::Seconds(10)));
  BOOST_TEST(h.state() == State::kOpen);
}

// The fourth failure comes `gap` after the first; it shares their window
// exactly when gap < time_unit.
BOOST_DATA_TEST_CASE(FourthFailureTripsOnlyInsideTheWindow,
                     bdata::make({-1, 0, 1}), nanos_past_time_unit) {
  Harness h{Window(3, absl::Seconds(60))};
  h.At(absl::ZeroDuration());
  h.Fail();
  h.Fail();
  h.Fail();

  h.At(absl::Seconds(60) + absl::Nanoseconds(nanos_past_time_unit));
  h.Fail();

  State expected = nanos_past_time_unit < 0 ? State::kOpen : State::kClosed;
  BOOST_TEST(h.state() == expected);
}

BOOST_AUTO_TEST_CASE(FailuresExactlyTimeUnitApartNeverShareAWindow) {
  Harness h{Window(1, absl::Seconds(5))};

  for (int i = 0; i < 20; ++i) {
    h.At(absl::Seconds(5) * i);
    h.Fail();
  }

  BOOST_TEST(h.state() == State::kClosed);
  BOOST_TEST(h.breaker.View(h.clock).failures_in_window == 1);
}

BOOST_AUTO_TEST_CASE(FailuresOneNanosecondLessThanTimeUnitApartShareAWindow) {
  Harness h{Window(1, absl::Seconds(5))};
  h.Fail();

  h.At(absl::Seconds(5) - absl::Nanoseconds(1));
  h.Fail();

  BOOST_TEST(h.state() == State::kOpen);
}

BOOST_AUTO_TEST_CASE(SuccessesDoNotEraseFailuresFromTheWindow) {
  Harness h{Window(2, absl::Seconds(60))};
  h.Fail();
  h.Fail();

  for (int i = 0; i < 100; ++i) h.Call(Outcome::kSuccess);
  h.Fail();

  BOOST_TEST(h.state() == State::kOpen);
}

BOOST_AUTO_TEST_CASE(IgnoredOutcomesNeverCountAsFailures) {
  Harness h{Window(0, absl::Seconds(60))};

  for (int i = 0; i < 10; ++i) h.Call(Outcome::kIgnored);

  BOOST_TEST(h.state() == State::kClosed);
  BOOST_TEST(h.breaker.View(h.clock).ignored == 10u);
}

BOOST_AUTO_TEST_CASE(MaxFailuresZeroOpensOnTheFirstFailure) {
  Harness h{Window(0, absl::Seconds(60))};

  Settled r = h.Fail();

  BOOST_TEST(r.transition.to == State::kOpen);
  BOOST_TEST(h.state() == State::kOpen);
}

BOOST_AUTO_TEST_CASE(UnlimitedMaxFailuresTurnsTheWindowRuleOff) {
  Harness h{Window(circuit::kUnlimited, absl::Seconds(60))};

  for (int i = 0; i < 1000; ++i) h.Fail();

  BOOST_TEST(h.state() == State::kClosed);
  BOOST_TEST(h.breaker.View(h.clock).failures == 1000u);
}

// The history keeps the newest max_failures failures after the one that
// trips, also while it holds fewer than its inline slots (here 1 and 2 of
// 3), so the count stays exact for snapshots and for a trip suppressed by
// the set. Away from t = 0, where a never-written slot would read as a
// failure in the window.
BOOST_DATA_TEST_CASE(TheFailureThatTripsKeepsTheNewestInTheWindow,
                     bdata::make({1, 2, 3}), max_failures) {
  Harness h{Window(max_failures, absl::Seconds(60))};
  h.At(absl::Seconds(100));

  for (int i = 0; i <= max_failures; ++i) h.Fail();

  BOOST_TEST(h.state() == State::kOpen);
  BOOST_TEST(h.breaker.View(h.clock).failures_in_window == max_failures);
}

BOOST_AUTO_TEST_CASE(LargeMaxFailuresKeepsAnExactHistoryOnTheHeap) {
  Harness h{Window(50, absl::Seconds(60))};

  for (int i = 0; i < 50; ++i) h.Fail();
  BOOST_TEST(h.state() == State::kClosed);
  h.Fail();

  BOOST_TEST(h.state() == State::kOpen);
}

// ---------------------------------------------------------------------------
// Open

BOOST_DATA_TEST_CASE(OpenRejectsUntilExactlyResetTimeout,
                     bdata::make({-1, 0, 1}), nanos_past_reset) {
  Harness h{Window(0, absl::Seconds(60), absl::Seconds(10))};
  h.At(absl::Seconds(100));
  h.Fail();

  h.At(absl::Seconds(110) + absl::Nanoseconds(nanos_past_reset));
  Decision d = h.Admit();

  if (nanos_past_reset < 0) {
    BOOST_TEST(!d.admitted);
    BOOST_TEST(d.retry_after_ns == 1);
    BOOST_TEST(h.state() == State::kOpen);
  } else {
    BOOST_TEST(d.admitted);
    BOOST_TEST(d.probe);
    BOOST_TEST(d.transition.happened);
    BOOST_TEST(d.transition.from == State::kOpen);
    BOOST_TEST(d.transition.to == State::kHalfOpen);
    BOOST_TEST(h.state() == State::kHalfOpen);
  }
}

BOOST_AUTO_TEST_CASE(OpenReportsTheRestOfTheOpenPeriodAndCountsRejections) {
  Harness h{Window(0, absl::Seconds(60), absl::Seconds(10))};
  h.Fail();
  h.At(absl::Seconds(4));

  Decision d = h.Admit();

  BOOST_TEST(!d.admitted);
  BOOST_TEST(d.retry_after_ns == absl::ToInt64Nanoseconds(absl::Seconds(6)));
  BOOST_TEST(h.breaker.View(h.clock).rejections == 1u);
}

BOOST_AUTO_TEST_CASE(OpenPastItsTimeoutReadsHalfOpenWithoutAdmitting) {
  Harness h{Window(0, absl::Seconds(60), absl::Seconds(10))};
  h.Fail();

  h.At(absl::Seconds(10));

  BOOST_TEST(h.state() == State::kHalfOpen);
  BOOST_TEST(h.breaker.View(h.clock).probes_in_flight == 0);
  BOOST_TEST(!h.breaker.IsClosed());
}

BOOST_AUTO_TEST_CASE(ZeroResetTimeoutAdmitsAProbeAtOnce) {
  Harness h{Window(0, absl::Seconds(60), absl::ZeroDuration())};
  h.Fail();

  Decision d = h.Admit();

  BOOST_TEST(d.admitted);
  BOOST_TEST(d.probe);
}

// ---------------------------------------------------------------------------
// Half-open

BOOST_DATA_TEST_CASE(HalfOpenAdmitsAtMostHalfOpenMaxCallsProbes,
                     bdata::make({1, 2, 5}), max_calls) {
  BreakerOptions o = Window(0, absl::Seconds(60), absl::Seconds(10));
  o.half_open_max_calls = max_calls;
  Harness h{o};
  h.Fail();
  h.At(absl::Seconds(10));

  for (int i = 0; i < max_calls; ++i) {
    Decision d = h.Admit();
    BOOST_TEST(d.admitted);
    BOOST_TEST(d.probe);
  }
  Decision extra = h.Admit();

  BOOST_TEST(!extra.admitted);
  BOOST_TEST(extra.retry_after_ns == 0);
  BOOST_TEST(h.breaker.View(h.clock).probes_in_flight == max_calls);
}

BOOST_DATA_TEST_CASE(HalfOpenClosesAfterHalfOpenSuccesses,
                     bdata::make({1, 2, 3}), successes) {
  BreakerOptions o = Window(0, absl::Seconds(60), absl::Seconds(10));
  o.half_open_successes = successes;
  Harness h{o};
  h.Fail();
  h.At(absl::Seconds(10));

  for (int i = 0; i < successes - 1; ++i) {
    Settled r = h.Call(Outcome::kSuccess);
    BOOST_TEST(!r.transition.happened);
    BOOST_TEST(h.state() == State::kHalfOpen);
  }
  Settled last = h.Call(Outcome::kSuccess);

  BOOST_TEST(last.transition.happened);
  BOOST_TEST(last.transition.from == State::kHalfOpen);
  BOOST_TEST(last.transition.to == State::kClosed);
  BOOST_TEST(h.state() == State::kClosed);
}

BOOST_AUTO_TEST_CASE(ClosingClearsTheFailureHistory) {
  Harness h{Window(2, absl::Seconds(60), absl::Seconds(10))};
  h.Trip();  // three failures at t = 0
  h.At(absl::Seconds(10));
  h.Call(Outcome::kSuccess);  // the probe closes it
  BOOST_REQUIRE(h.state() == State::kClosed);

  h.Fail();
  h.Fail();

  BOOST_TEST(h.state() == State::kClosed);
  BOOST_TEST(h.breaker.View(h.clock).failures_in_window == 2);
  h.Fail();
  BOOST_TEST(h.state() == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ProbeFailureReopensAndRestartsTheOpenPeriodAtThatFailure) {
  Harness h{Window(0, absl::Seconds(60), absl::Seconds(10))};
  h.Fail();
  h.At(absl::Seconds(10));
  Decision probe = h.Admit();
  BOOST_REQUIRE(probe.admitted);

  h.At(absl::Seconds(13));
  Settled r = h.Settle(probe, Outcome::kFailure);

  BOOST_TEST(r.transition.happened);
  BOOST_TEST(r.transition.from == State::kHalfOpen);
  BOOST_TEST(r.transition.to == State::kOpen);
  h.At(absl::Seconds(23) - absl::Nanoseconds(1));
  BOOST_TEST(!h.Admit().admitted);
  h.At(absl::Seconds(23));
  BOOST_TEST(h.Admit().admitted);
}

BOOST_AUTO_TEST_CASE(IgnoredProbeFreesItsSlot) {
  Harness h{Window(0, absl::Seconds(60), absl::Seconds(10))};
  h.Fail();
  h.At(absl::Seconds(10));
  Decision probe = h.Admit();
  BOOST_REQUIRE(probe.admitted);
  BOOST_REQUIRE(!h.Admit().admitted);

  h.Settle(probe, Outcome::kIgnored);

  BOOST_TEST(h.state() == State::kHalfOpen);
  Decision next = h.Admit();
  BOOST_TEST(next.admitted);
  BOOST_TEST(next.probe);
}

BOOST_AUTO_TEST_CASE(SuccessfulProbeShortOfTheQuotaFreesItsSlot) {
  BreakerOptions o = Window(0, absl::Seconds(60), absl::Seconds(10));
  o.half_open_successes = 2;
  Harness h{o};
  h.Fail();
  h.At(absl::Seconds(10));
  Decision probe = h.Admit();
  BOOST_REQUIRE(!h.Admit().admitted);

  h.Settle(probe, Outcome::kSuccess);

  BOOST_TEST(h.Admit().admitted);
}

// ---------------------------------------------------------------------------
// Late outcomes

BOOST_AUTO_TEST_CASE(LateFailureAdmittedWhileClosedDoesNotReopenAClosedBreaker) {
  Harness h{Window(0, absl::Seconds(60), absl::Seconds(10))};
  Decision slow = h.Admit();
  h.Fail();  // opens
  h.At(absl::Seconds(10));
  h.Call(Outcome::kSuccess);  // probe closes it
  BOOST_REQUIRE(h.state() == State::kClosed);

  Settled r = h.Settle(slow, Outcome::kFailure);

  BOOST_TEST(r.late);
  BOOST_TEST(!r.transition.happened);
  BOOST_TEST(h.state() == State::kClosed);
  BOOST_TEST(h.breaker.View(h.clock).failures == 2u);  // still counted
}

BOOST_AUTO_TEST_CASE(LateFailureDoesNotExtendTheOpenPeriod) {
  Harness h{Window(0, absl::Seconds(60), absl::Seconds(10))};
  Decision slow = h.Admit();
  h.Fail();  // opens at 0 until 10
  h.At(absl::Seconds(9));

  Settled r = h.Settle(slow, Outcome::kFailure);

  BOOST_TEST(r.late);
  h.At(absl::Seconds(10));
  BOOST_TEST(h.Admit().admitted);
}

BOOST_AUTO_TEST_CASE(LateProbeSuccessAfterAReopenDoesNotClose) {
  BreakerOptions o = Window(0, absl::Seconds(60), absl::Seconds(10));
  o.half_open_max_calls = 2;
  Harness h{o};
  h.Fail();
  h.At(absl::Seconds(10));
  Decision a = h.Admit();
  Decision b = h.Admit();
  BOOST_REQUIRE(a.admitted && b.admitted);
  h.Settle(a, Outcome::kFailure);  // re-opens

  Settled r = h.Settle(b, Outcome::kSuccess);

  BOOST_TEST(r.late);
  BOOST_TEST(h.state() == State::kOpen);
}

BOOST_AUTO_TEST_CASE(LateIgnoredProbeDoesNotFreeASlotOfTheNextHalfOpenPeriod) {
  BreakerOptions o = Window(0, absl::Seconds(60), absl::Seconds(10));
  o.half_open_max_calls = 2;
  Harness h{o};
  h.Fail();
  h.At(absl::Seconds(10));
  Decision a = h.Admit();
  Decision b = h.Admit();
  h.Settle(a, Outcome::kFailure);  // re-opens until 20
  h.At(absl::Seconds(20));
  BOOST_REQUIRE(h.Admit().admitted);
  BOOST_REQUIRE(h.Admit().admitted);

  h.Settle(b, Outcome::kIgnored);

  BOOST_TEST(!h.Admit().admitted);
  BOOST_TEST(h.breaker.View(h.clock).probes_in_flight == 2);
}

// ---------------------------------------------------------------------------
// Manual control

BOOST_AUTO_TEST_CASE(ManualOpenRejectsForOneResetTimeout) {
  Harness h{Window(3, absl::Seconds(60), absl::Seconds(10))};
  h.At(absl::Seconds(5));

  Transition t = h.breaker.Open(h.clock);

  BOOST_TEST(t.happened);
  BOOST_TEST(t.to == State::kOpen);
  h.At(absl::Seconds(15) - absl::Nanoseconds(1));
  BOOST_TEST(!h.Admit().admitted);
  h.At(absl::Seconds(15));
  BOOST_TEST(h.Admit().admitted);
}

BOOST_AUTO_TEST_CASE(ManualCloseOfAnOpenBreakerClearsTheHistory) {
  Harness h{Window(2, absl::Seconds(60), absl::Seconds(10))};
  h.Fail();
  h.Fail();
  h.breaker.Open(h.clock);
  BOOST_REQUIRE(!h.Admit().admitted);

  Transition t = h.breaker.Close(h.clock);

  BOOST_TEST(t.happened);
  BOOST_TEST(t.from == State::kOpen);
  BOOST_TEST(h.breaker.View(h.clock).failures_in_window == 0);
  h.Fail();
  h.Fail();
  BOOST_TEST(h.state() == State::kClosed);
}

BOOST_AUTO_TEST_CASE(ManualHalfOpenFreesEverySlot) {
  BreakerOptions o = Window(0, absl::Seconds(60), absl::Seconds(10));
  o.half_open_max_calls = 2;
  Harness h{o};

  Transition t = h.breaker.HalfOpen();

  BOOST_TEST(t.happened);
  BOOST_TEST(h.state() == State::kHalfOpen);
  BOOST_TEST(h.Admit().probe);
  BOOST_TEST(h.Admit().probe);
  BOOST_TEST(!h.Admit().admitted);
}

BOOST_AUTO_TEST_CASE(TransitionsReportNothingWhenTheStateDoesNotChange) {
  Harness h{BreakerOptions{}};

  Transition t = h.breaker.Close(h.clock);

  BOOST_TEST(!t.happened);
}

// ---------------------------------------------------------------------------
// Transitions carry what the events layer coalesces log lines by

BOOST_AUTO_TEST_CASE(TransitionsCarryTheirTimeAndWhetherTheyWereAskedFor) {
  Harness h{Window(0, absl::Seconds(60), absl::Seconds(1))};
  h.At(absl::Seconds(3));
  Settled trip = h.Fail();
  Transition manual = h.breaker.Close(h.clock);

  BOOST_TEST(trip.transition.happened);
  BOOST_TEST(trip.transition.at_ns == absl::ToInt64Nanoseconds(absl::Seconds(3)));
  BOOST_TEST(!trip.transition.manual);
  BOOST_TEST(manual.happened);
  BOOST_TEST(manual.manual);
}

// ---------------------------------------------------------------------------
// The packed word and the policy

BOOST_AUTO_TEST_CASE(PackedWordRoundTripsStateProbesAndGeneration) {
  namespace word = circuit::internal::word;

  std::uint64_t w = word::Make(State::kHalfOpen, 65535, (1ull << 45) - 1);

  BOOST_TEST(word::StateOf(w) == State::kHalfOpen);
  BOOST_TEST(word::ProbesOf(w) == 65535u);
  BOOST_TEST(word::GenerationOf(w) == (1ull << 45) - 1);
}

BOOST_AUTO_TEST_CASE(PolicyRejectsOptionsThatDoNotValidate) {
  BreakerOptions o;
  o.half_open_max_calls = 0;

  absl::StatusOr<std::unique_ptr<Policy>> p =
      Policy::Make(o, 1);

  BOOST_TEST(absl::IsInvalidArgument(p.status()));
}

BOOST_AUTO_TEST_SUITE_END()

// The failure history grows with the failures that actually share a window,
// so a large max_failures costs nothing up front and stays exact.
BOOST_AUTO_TEST_SUITE(FailureHistoryTest)

BOOST_DATA_TEST_CASE(LargeLimitsAreExactAtTheirEdge,
                     bdata::make({4, 8, 100, 1000}), max_failures) {
  BreakerOptions o;
  o.max_failures = max_failures;
  o.time_unit = absl::Seconds(60);
  Harness h(o);
  for (int i = 0; i < max_failures; ++i) {
    h.At(absl::Milliseconds(i));
    h.Fail();
  }
  BOOST_TEST(h.state() == State::kClosed);

  h.At(absl::Milliseconds(max_failures));
  h.Fail();

  BOOST_TEST(h.state() == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ExpiredFailuresAreForgottenBeforeTheHistoryGrows) {
  BreakerOptions o;
  o.max_failures = 1000;
  o.time_unit = absl::Seconds(10);
  Harness h(o);
  // 10 000 failures, one a second: never more than 10 in a window.
  for (int i = 0; i < 10000; ++i) {
    h.At(absl::Seconds(i));
    h.Fail();
  }
  BOOST_TEST(h.state() == State::kClosed);
  BOOST_TEST(h.breaker.View(h.clock).failures_in_window == 10);
}

BOOST_AUTO_TEST_CASE(OneBelowUnlimitedIsAUsableWindowRule) {
  BreakerOptions o;
  o.max_failures = circuit::kUnlimited - 1;  // ~8 bytes x 2^31 if reserved
  Harness h(o);

  for (int i = 0; i < 100; ++i) h.Fail();

  BOOST_TEST(h.state() == State::kClosed);
  BOOST_TEST(h.breaker.View(h.clock).failures_in_window == 100);
}

BOOST_AUTO_TEST_CASE(LoweringTheLimitKeepsTheNewestFailures) {
  BreakerOptions o;
  o.max_failures = 10;
  Harness h(o);
  for (int i = 0; i < 8; ++i) {
    h.At(absl::Seconds(i));
    h.Fail();
  }
  BreakerOptions lower = o;
  lower.max_failures = 3;
  std::unique_ptr<Policy> p = MakePolicy(lower);

  h.breaker.SetPolicy(p.get());
  h.At(absl::Seconds(8));
  h.Fail();  // 3 kept (5, 6, 7 s) + this one: more than 3

  BOOST_TEST(h.state() == State::kOpen);
  h.breaker.SetPolicy(h.policy.get());  // p dies first
}

BOOST_AUTO_TEST_SUITE_END()

// Breaker::RejectIfOpen: the rejection that needs no general admission. With
// a slack (a coarse clock that may lag by that much) it rejects only when
// the deadline is certainly still ahead; without one, exactly before it.
BOOST_AUTO_TEST_SUITE(RejectIfOpenTest)

constexpr std::int64_t kSlack = 8'000'000;  // two 4 ms ticks

struct Opened : Harness {
  Opened() : Harness(BreakerOptions{}) {
    At(absl::Seconds(100));
    Trip();
    until = circuit::internal::ToNanos(clock.now()) +
            absl::ToInt64Nanoseconds(BreakerOptions{}.reset_timeout);
  }
  std::int64_t until = 0;
  std::int64_t retry = -1;
};

BOOST_FIXTURE_TEST_CASE(CertainlyOpenJustBeforeTheSlack, Opened) {
  BOOST_TEST(breaker.RejectIfOpen(until - kSlack - 1, kSlack, &retry));
  BOOST_TEST(retry == kSlack + 1);  // from the coarse reading: never early
}

BOOST_FIXTURE_TEST_CASE(NotCertainWithinTheSlack, Opened) {
  BOOST_TEST(!breaker.RejectIfOpen(until - kSlack, kSlack, &retry));
  BOOST_TEST(!breaker.RejectIfOpen(until - 1, kSlack, &retry));
  BOOST_TEST(retry == -1);  // untouched
}

BOOST_FIXTURE_TEST_CASE(ExactlyOpenUntilTheDeadline, Opened) {
  BOOST_TEST(breaker.RejectIfOpen(until - 1, 0, &retry));
  BOOST_TEST(retry == 1);
  BOOST_TEST(!breaker.RejectIfOpen(until, 0, &retry));
  BOOST_TEST(!breaker.RejectIfOpen(until + 1, 0, &retry));
}

BOOST_FIXTURE_TEST_CASE(ARejectionIsCounted, Opened) {
  BOOST_REQUIRE(breaker.RejectIfOpen(until - 1, 0, &retry));
  BOOST_TEST(breaker.View(clock).rejections == 1u);
}

BOOST_AUTO_TEST_CASE(AClosedBreakerIsNotRejected) {
  Harness h{BreakerOptions{}};
  std::int64_t retry = -1;
  BOOST_TEST(!h.breaker.RejectIfOpen(0, 0, &retry));
  BOOST_TEST(!h.breaker.RejectIfOpen(0, kSlack, &retry));
}

BOOST_AUTO_TEST_SUITE_END()

// The failure history is made on the first failure: a peer that only
// succeeded has none, and a snapshot of it reads an empty window.
BOOST_AUTO_TEST_CASE(AHealthyBreakerReadsAnEmptyWindow) {
  Harness h{BreakerOptions{}};
  h.Call(Outcome::kSuccess);
  BOOST_TEST(h.breaker.View(h.clock).failures_in_window == 0);
  h.Fail();
  BOOST_TEST(h.breaker.View(h.clock).failures_in_window == 1);
}
