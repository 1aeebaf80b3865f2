// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the Boost.Asio adapter tests (the core tests' helpers
// are in ../test_util.h): a loopback port nothing listens on, and a set
// whose counters tell every outcome.

#ifndef CIRCUIT_TESTS_ASIO_ASIO_TEST_UTIL_H_
#define CIRCUIT_TESTS_ASIO_ASIO_TEST_UTIL_H_

// clang-format off
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>: include it before any Boost.Asio header (DESIGN.md section 4).
#include <utility>
// clang-format on

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "circuit/options.h"

namespace circuit::testing {

// A free loopback port: bound, then closed again, so nothing listens on it.
inline unsigned short ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
  unsigned short port = a.local_endpoint().port();
  a.close();
  return port;
}

// A set that never trips by the window rule, so counters tell all.
inline SetOptions Patient() {
  SetOptions o;
  o.defaults.max_failures = 1000;
  return o;
}

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_ASIO_ASIO_TEST_UTIL_H_
