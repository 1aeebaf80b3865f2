// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// BreakerOptions and SetOptions (circuit/options.h): the defaults DESIGN.md
// fixes, and the tables of bad and edge values (test_util.h): each bad value
// is rejected naming its field, by validate(), by the set's constructor and
// by configure(), which then changes nothing; each edge value is accepted
// and runs.

#include "circuit/options.h"

#include <limits>
#include <stdexcept>
#include <string>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

// Checks that validate() refuses `o` as kInvalidArgument, naming `field`
// first.
template <class Options>
void ExpectInvalidNaming(const Options& o, const std::string& field) {
  absl::Status s = o.validate();
  BOOST_TEST(absl::IsInvalidArgument(s));
  BOOST_TEST(absl::StartsWith(s.message(), field), s.message());
}

// Checks that the set's constructor refuses `o` with `message`.
void ExpectConstructorRefuses(const SetOptions& o, const std::string& message) {
  BOOST_CHECK_EXCEPTION(CircuitBreakerSet{o}, std::invalid_argument,
                        [&](const std::invalid_argument& e) {
                          return e.what() == message;
                        });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(OptionsTest)

BOOST_AUTO_TEST_CASE(DefaultsAreThoseOfTheDesign) {
  BreakerOptions o;
  SetOptions s;

  BOOST_TEST(o.max_failures == 3);
  BOOST_TEST(o.time_unit == absl::Seconds(60));
  BOOST_TEST(o.reset_timeout == absl::Seconds(10));
  BOOST_TEST(o.half_open_max_calls == 1);
  BOOST_TEST(o.half_open_successes == 1);
  BOOST_TEST(o.validate().ok());
  BOOST_TEST(s.clock == nullptr);
  BOOST_TEST(s.logger == nullptr);
  BOOST_TEST(s.max_peers == 0u);
  BOOST_TEST(s.validate().ok());
  BOOST_TEST(kUnlimited == std::numeric_limits<int>::max());
}

BOOST_AUTO_TEST_CASE(TheDefaultsTurnEveryFurtherRuleOff) {
  BreakerOptions o;

  BOOST_TEST(o.consecutive_failures == 0);
  BOOST_TEST(o.failure_rate_threshold == 0);
  BOOST_TEST(o.slow_call_duration == absl::ZeroDuration());
  BOOST_TEST(o.slow_call_rate_threshold == 0);
  BOOST_TEST(o.backoff_multiplier == 1);
  BOOST_TEST(o.max_reset_timeout == absl::InfiniteDuration());
  BOOST_TEST(o.jitter == 0);
  BOOST_TEST(o.minimum_calls == 20);
  BOOST_TEST(o.window_buckets == 10);
}

BOOST_DATA_TEST_CASE(BadBreakerOptionsAreRejectedNamingTheField,
                     bdata::make(BadBreakerOptions()), bad) {
  BreakerOptions o;

  bad.apply(o);

  ExpectInvalidNaming(o, bad.field);
}

BOOST_DATA_TEST_CASE(SetWithBadDefaultsThrowsInvalidArgumentNamingTheField,
                     bdata::make(BadBreakerOptions()), bad) {
  SetOptions o;
  bad.apply(o.defaults);
  const std::string expected = absl::StrCat("defaults.", o.defaults.validate().message());

  ExpectConstructorRefuses(o, expected);
  BOOST_TEST(absl::StrContains(expected, "defaults." + bad.field));
}

BOOST_DATA_TEST_CASE(ConfigureWithBadOptionsThrowsAndCreatesNoPeer,
                     bdata::make(BadBreakerOptions()), bad) {
  CircuitBreakerSet set;
  BreakerOptions o;
  bad.apply(o);

  BOOST_CHECK_EXCEPTION(set.configure("a", o), std::invalid_argument,
                        [&](const std::invalid_argument& e) {
                          return e.what() == o.validate().message();
                        });
  BOOST_TEST(set.size() == 0u);
}

// The peer keeps the defaults: the fourth failure opens it.
BOOST_DATA_TEST_CASE_F(ManualSetFixture,
                       ConfigureWithBadOptionsLeavesAKnownPeersPolicy,
                       bdata::make(BadBreakerOptions()), bad) {
  Succeed(set, "victim");
  BreakerOptions o;
  bad.apply(o);

  BOOST_CHECK_THROW(set.configure("victim", o), std::invalid_argument);

  BOOST_TEST(FailuresToOpen(set, "victim") == 4);
}

BOOST_DATA_TEST_CASE(BadSetOptionsAreRejectedNamingTheField,
                     bdata::make(BadSetOptions()), bad) {
  SetOptions o;

  bad.apply(o);

  ExpectInvalidNaming(o, bad.field);
  ExpectConstructorRefuses(o, std::string(o.validate().message()));
}

// Accepted, and a set with it admits, counts, trips, evaluates and is closed
// again.
BOOST_DATA_TEST_CASE_F(ManualSetFixture, EdgeSetValuesAreAccepted,
                       bdata::make(EdgeSetOptions()), edge) {
  SetOptions o = ManualOptions(&clock, 0);
  edge.apply(o);

  BOOST_TEST(o.validate().ok(), o.validate().message());
  CircuitBreakerSet edgy(o);
  Succeed(edgy, "a", 3);
  Fail(edgy, "b");
  (void)edgy.evaluate_outliers();
  BOOST_TEST(edgy.state("b") == State::kOpen);
  edgy.close("b");
  BOOST_TEST(Admits(edgy, "b"));
}

// Accepted, and a set with it admits, counts and trips and is closed again.
BOOST_DATA_TEST_CASE_F(ManualSetFixture, EdgeValuesAreAccepted,
                       bdata::make(EdgeBreakerOptions()), edge) {
  SetOptions o = ManualOptions(&clock);
  edge.apply(o.defaults);

  BOOST_TEST(o.defaults.validate().ok(), o.defaults.validate().message());
  CircuitBreakerSet edgy(o);
  for (int k = 0; k < 5; ++k) {
    absl::StatusOr<Context> c = edgy.try_context("p");
    if (c.ok()) c->fail();
    clock.advance(absl::Milliseconds(300));
  }
  edgy.close("p");
  BOOST_TEST(edgy.state("p") == State::kClosed);
  BOOST_TEST(Admits(edgy, "p"));
}

BOOST_AUTO_TEST_CASE(MessageCarriesTheBadValue) {
  BreakerOptions o;
  o.half_open_max_calls = -7;

  absl::Status s = o.validate();

  BOOST_TEST(absl::StrContains(s.message(), "-7"), s.message());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
