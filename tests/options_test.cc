// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// BreakerOptions and SetOptions (circuit/options.h): the defaults DESIGN.md
// fixes, and a table of bad values, each rejected naming its field.

#include "circuit/options.h"

#include <functional>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"

namespace bdata = boost::unit_test::data;

using circuit::BreakerOptions;
using circuit::CircuitBreakerSet;
using circuit::SetOptions;

namespace {

// One bad BreakerOptions value and the field its error must name.
struct BadBreaker {
  std::string field;
  std::function<void(BreakerOptions&)> spoil;
};

std::ostream& operator<<(std::ostream& os, const BadBreaker& c) {
  return os << c.field;
}

const std::vector<BadBreaker> kBadBreakerOptions = {
    {"max_failures", [](BreakerOptions& o) { o.max_failures = -1; }},
    {"max_failures",
     [](BreakerOptions& o) { o.max_failures = std::numeric_limits<int>::min(); }},
    {"time_unit", [](BreakerOptions& o) { o.time_unit = absl::ZeroDuration(); }},
    {"time_unit",
     [](BreakerOptions& o) { o.time_unit = -absl::Nanoseconds(1); }},
    {"time_unit",
     [](BreakerOptions& o) { o.time_unit = absl::InfiniteDuration(); }},
    {"reset_timeout",
     [](BreakerOptions& o) { o.reset_timeout = -absl::Nanoseconds(1); }},
    {"reset_timeout",
     [](BreakerOptions& o) { o.reset_timeout = absl::InfiniteDuration(); }},
    {"half_open_max_calls", [](BreakerOptions& o) { o.half_open_max_calls = 0; }},
    {"half_open_max_calls",
     [](BreakerOptions& o) { o.half_open_max_calls = -3; }},
    {"half_open_max_calls",
     [](BreakerOptions& o) { o.half_open_max_calls = 65536; }},
    {"half_open_successes", [](BreakerOptions& o) { o.half_open_successes = 0; }},
    {"half_open_successes",
     [](BreakerOptions& o) { o.half_open_successes = -1; }},
    {"consecutive_failures",
     [](BreakerOptions& o) { o.consecutive_failures = -1; }},
    {"failure_rate_threshold",
     [](BreakerOptions& o) { o.failure_rate_threshold = -0.1; }},
    {"failure_rate_threshold",
     [](BreakerOptions& o) { o.failure_rate_threshold = 1.01; }},
    {"failure_rate_threshold",
     [](BreakerOptions& o) {
       o.failure_rate_threshold = std::numeric_limits<double>::quiet_NaN();
     }},
    {"minimum_calls", [](BreakerOptions& o) { o.minimum_calls = 0; }},
    {"window_buckets", [](BreakerOptions& o) { o.window_buckets = 0; }},
    {"window_buckets", [](BreakerOptions& o) { o.window_buckets = 1001; }},
    {"slow_call_duration",
     [](BreakerOptions& o) { o.slow_call_duration = -absl::Seconds(1); }},
    {"slow_call_rate_threshold",
     [](BreakerOptions& o) { o.slow_call_rate_threshold = 2; }},
    {"slow_call_rate_threshold",
     [](BreakerOptions& o) { o.slow_call_rate_threshold = 0.5; }},  // no duration
    {"backoff_multiplier", [](BreakerOptions& o) { o.backoff_multiplier = 0.5; }},
    {"backoff_multiplier",
     [](BreakerOptions& o) {
       o.backoff_multiplier = std::numeric_limits<double>::infinity();
     }},
    {"backoff_multiplier",
     [](BreakerOptions& o) {
       o.backoff_multiplier = std::numeric_limits<double>::quiet_NaN();
     }},
    {"max_reset_timeout",
     [](BreakerOptions& o) { o.max_reset_timeout = absl::Seconds(9); }},
    {"jitter", [](BreakerOptions& o) { o.jitter = -0.1; }},
    {"jitter", [](BreakerOptions& o) { o.jitter = 1; }},
};

// One bad set-level value and the field its error must name.
struct BadSet {
  std::string field;
  std::function<void(SetOptions&)> spoil;
};

std::ostream& operator<<(std::ostream& os, const BadSet& c) {
  return os << c.field;
}

const std::vector<BadSet> kBadSetOptions = {
    {"defaults.max_failures", [](SetOptions& o) { o.defaults.max_failures = -1; }},
    {"defaults.half_open_max_calls",
     [](SetOptions& o) { o.defaults.half_open_max_calls = 0; }},
    {"idle_timeout", [](SetOptions& o) { o.idle_timeout = -absl::Seconds(1); }},
    {"log_interval", [](SetOptions& o) { o.log_interval = -absl::Seconds(1); }},
    {"max_peer_id_bytes", [](SetOptions& o) { o.max_peer_id_bytes = 0; }},
    {"failure_codes",
     [](SetOptions& o) { o.failure_codes.push_back(absl::StatusCode::kOk); }},
};

// Valid edge values that must be accepted.
const std::vector<BadBreaker> kGoodEdges = {
    {"max_failures", [](BreakerOptions& o) { o.max_failures = 0; }},
    {"max_failures", [](BreakerOptions& o) { o.max_failures = circuit::kUnlimited; }},
    {"time_unit", [](BreakerOptions& o) { o.time_unit = absl::Nanoseconds(1); }},
    {"reset_timeout",
     [](BreakerOptions& o) { o.reset_timeout = absl::ZeroDuration(); }},
    {"half_open_max_calls", [](BreakerOptions& o) { o.half_open_max_calls = 65535; }},
    {"half_open_successes", [](BreakerOptions& o) { o.half_open_successes = 1000; }},
    {"failure_rate_threshold",
     [](BreakerOptions& o) { o.failure_rate_threshold = 1; }},
    {"jitter", [](BreakerOptions& o) { o.jitter = 0.99; }},
    {"max_reset_timeout",
     [](BreakerOptions& o) { o.max_reset_timeout = o.reset_timeout; }},
};

bool Names(const std::string& message, const std::string& field) {
  return message.find(field) != std::string::npos;
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
  BOOST_TEST(circuit::kUnlimited == std::numeric_limits<int>::max());
}

BOOST_DATA_TEST_CASE(BadBreakerOptionsAreRejectedNamingTheField,
                     bdata::make(kBadBreakerOptions), bad) {
  BreakerOptions o;
  bad.spoil(o);

  absl::Status s = o.validate();

  BOOST_TEST(absl::IsInvalidArgument(s));
  BOOST_TEST(Names(std::string(s.message()), bad.field), s.message());
}

BOOST_DATA_TEST_CASE(SetWithBadDefaultsThrowsInvalidArgumentNamingTheField,
                     bdata::make(kBadBreakerOptions), bad) {
  SetOptions o;
  bad.spoil(o.defaults);

  BOOST_CHECK_EXCEPTION(CircuitBreakerSet{o}, std::invalid_argument,
                        [&](const std::invalid_argument& e) {
                          return Names(e.what(), "defaults." + bad.field);
                        });
}

BOOST_DATA_TEST_CASE(ConfigureWithBadOptionsThrowsNamingTheField,
                     bdata::make(kBadBreakerOptions), bad) {
  CircuitBreakerSet set;
  BreakerOptions o;
  bad.spoil(o);

  BOOST_CHECK_EXCEPTION(set.configure("a", o), std::invalid_argument,
                        [&](const std::invalid_argument& e) {
                          return Names(e.what(), bad.field);
                        });
  BOOST_TEST(set.size() == 0u);
}

BOOST_DATA_TEST_CASE(BadSetOptionsAreRejectedNamingTheField,
                     bdata::make(kBadSetOptions), bad) {
  SetOptions o;
  bad.spoil(o);

  absl::Status s = o.validate();

  BOOST_TEST(absl::IsInvalidArgument(s));
  BOOST_TEST(Names(std::string(s.message()), bad.field), s.message());
  BOOST_CHECK_EXCEPTION(CircuitBreakerSet{o}, std::invalid_argument,
                        [&](const std::invalid_argument& e) {
                          return std::string(e.what()) == s.message();
                        });
}

BOOST_DATA_TEST_CASE(EdgeValuesAreAccepted, bdata::make(kGoodEdges), edge) {
  SetOptions o;
  edge.spoil(o.defaults);

  BOOST_TEST(o.defaults.validate().ok(), o.defaults.validate().message());
  BOOST_CHECK_NO_THROW(CircuitBreakerSet{o});
}

BOOST_AUTO_TEST_CASE(MessageCarriesTheBadValue) {
  BreakerOptions o;
  o.half_open_max_calls = -7;

  absl::Status s = o.validate();

  BOOST_TEST(Names(std::string(s.message()), "-7"), s.message());
}

BOOST_AUTO_TEST_SUITE_END()
