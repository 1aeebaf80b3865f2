// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The trip rules alone (src/trip_rules.h): no breaker, no clock, no lock;
// times are plain nanoseconds. The breaker's use of them is breaker_test's.

#include <cstdint>
#include <memory>

#include <boost/test/unit_test.hpp>

#include "absl/time/time.h"
#include "circuit/options.h"
#include "trip_rules.h"

namespace circuit::testing {
using internal::Policy;
using internal::TripRules;

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

std::unique_ptr<Policy> PolicyOf(const BreakerOptions& o) {
  auto p = Policy::Make(o, /*seed=*/1);
  BOOST_REQUIRE(p.ok());
  return *std::move(p);
}

struct Rules {
  explicit Rules(const BreakerOptions& o) : policy(PolicyOf(o)) {
    rules.Configure(*policy);
  }
  // A failure at `t` seconds, the run growing by one.
  bool FailAt(std::int64_t t) {
    return rules.Record(*policy, t * kSecond, /*failure=*/true, /*slow=*/false,
                        ++run);
  }
  std::unique_ptr<Policy> policy;
  TripRules rules;
  std::int32_t run = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(TripRulesTest)

BOOST_AUTO_TEST_CASE(TheWindowRuleFiresOnTheFailureThatMakesOneTooMany) {
  BreakerOptions o;  // 3 failures within 60 s
  Rules r(o);
  BOOST_TEST(!r.FailAt(0));
  BOOST_TEST(!r.FailAt(1));
  BOOST_TEST(!r.FailAt(2));
  BOOST_TEST(r.FailAt(3));
  BOOST_TEST(r.rules.FailuresInWindow(*r.policy, 3 * kSecond) == 3);
}

BOOST_AUTO_TEST_CASE(FailuresExactlyATimeUnitApartNeverShareTheWindow) {
  BreakerOptions o;
  o.max_failures = 1;
  Rules r(o);
  BOOST_TEST(!r.FailAt(0));
  BOOST_TEST(!r.FailAt(60));  // the first fell out of (0, 60] exactly now
  BOOST_TEST(r.FailAt(119));  // 59 s after the second: shares its window
}

BOOST_AUTO_TEST_CASE(TheConsecutiveRuleNeedsTheTimeOnlyWhenItFires) {
  BreakerOptions o;
  o.max_failures = kUnlimited;
  o.consecutive_failures = 3;
  Rules r(o);
  BOOST_TEST(!TripRules::NeedsTime(*r.policy, /*failure=*/true, 2));
  BOOST_TEST(TripRules::NeedsTime(*r.policy, /*failure=*/true, 3));
  BOOST_TEST(!TripRules::NeedsTime(*r.policy, /*failure=*/false, 0));
  BOOST_TEST(!r.FailAt(0));
  BOOST_TEST(!r.FailAt(0));
  BOOST_TEST(r.FailAt(0));
}

BOOST_AUTO_TEST_CASE(BackoffGrowsPerTripInARowAndDecaysWhileClosed) {
  BreakerOptions o;
  o.reset_timeout = absl::Seconds(10);
  o.backoff_multiplier = 2;
  o.time_unit = absl::Seconds(60);
  Rules r(o);
  const Policy& p = *r.policy;
  BOOST_TEST(r.rules.NextOpenPeriod(p, 0, true, true, 0) == 10 * kSecond);
  BOOST_TEST(r.rules.NextOpenPeriod(p, 0, false, true, 0) == 20 * kSecond);
  r.rules.Closed(p, 100 * kSecond, /*forget_backoff=*/false);
  // 59 s closed: no decay yet; the third in a row.
  BOOST_TEST(r.rules.NextOpenPeriod(p, 159 * kSecond, true, true, 0) ==
             40 * kSecond);
  r.rules.Closed(p, 200 * kSecond, /*forget_backoff=*/false);
  // 120 s closed: two of the three decay; this one is the second.
  BOOST_TEST(r.rules.NextOpenPeriod(p, 320 * kSecond, true, true, 0) ==
             20 * kSecond);
  r.rules.Closed(p, 400 * kSecond, /*forget_backoff=*/true);
  BOOST_TEST(r.rules.trips_in_a_row() == 0);
}

BOOST_AUTO_TEST_CASE(ClosingClearsTheWindow) {
  BreakerOptions o;
  Rules r(o);
  r.FailAt(0);
  r.FailAt(1);
  r.rules.Closed(*r.policy, 2 * kSecond, false);
  BOOST_TEST(r.rules.FailuresInWindow(*r.policy, 2 * kSecond) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
