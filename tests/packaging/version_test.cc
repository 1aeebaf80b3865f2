// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// circuit/version.h: the macros, reached through circuit/circuit.h, agree
// with the version the built tree's pkg-config file reports. The expected
// version is the argument after `--` (check_version.sh passes
// `pkg-config --modversion circuit` of the uninstalled tree).

#include <string>

#include <boost/test/unit_test.hpp>

#include "circuit/circuit.h"

namespace {

// The version this test was asked to expect; fails the test without one.
std::string ExpectedVersion() {
  const auto& suite = boost::unit_test::framework::master_test_suite();
  BOOST_TEST_REQUIRE(suite.argc == 2,
                     "usage: version_test -- <expected version>");
  return suite.argv[1];
}

// The macros are plain integers, usable in #if.
#if !(CIRCUIT_VERSION_MAJOR >= 0 && CIRCUIT_VERSION_MINOR >= 0 && \
      CIRCUIT_VERSION_PATCH >= 0)
#error "CIRCUIT_VERSION_* must be integers"
#endif

}  // namespace

BOOST_AUTO_TEST_SUITE(VersionTest)

BOOST_AUTO_TEST_CASE(StringIsThePkgConfigVersion) {
  std::string expected = ExpectedVersion();

  BOOST_TEST(std::string(CIRCUIT_VERSION_STRING) == expected);
}

BOOST_AUTO_TEST_CASE(NumbersAreThePartsOfThePkgConfigVersion) {
  std::string expected = ExpectedVersion();

  std::string from_numbers = std::to_string(CIRCUIT_VERSION_MAJOR) + "." +
                             std::to_string(CIRCUIT_VERSION_MINOR) + "." +
                             std::to_string(CIRCUIT_VERSION_PATCH);

  BOOST_TEST(from_numbers == expected);
}

BOOST_AUTO_TEST_SUITE_END()
