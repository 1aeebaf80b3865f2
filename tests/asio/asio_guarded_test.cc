// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// circuit::asio::guarded() and ErrorPolicy: outcomes of awaitables (values,
// exceptions, error codes), rejection in both forms, abandoned awaitables,
// and real coroutines on loopback sockets.

// clang-format off
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>: include it before any Boost.Asio header (DESIGN.md section 4).
#include <utility>
// clang-format on

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>

#include "asio_test_util.h"
#include "circuit/asio.h"
#include "circuit/breaker_set.h"

namespace net = boost::asio;
using boost::system::error_code;
using net::awaitable;
using net::ip::tcp;

namespace circuit::testing {
namespace {

// Runs `a` on `io` to completion; rethrows what it threw.
template <class T>
T RunOn(net::io_context& io, awaitable<T> a) {
  std::exception_ptr error;
  std::optional<T> out;
  net::co_spawn(io, std::move(a), [&](std::exception_ptr e, T r) {
    error = e;
    if (!e) out.emplace(std::move(r));
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

void RunOn(net::io_context& io, awaitable<void> a) {
  std::exception_ptr error;
  net::co_spawn(io, std::move(a), [&](std::exception_ptr e) { error = e; });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
}

template <class T>
awaitable<T> Return(T v, bool* started = nullptr) {
  if (started != nullptr) *started = true;
  co_return v;
}

template <class E>
awaitable<int> Throw(E e) {
  throw e;
  co_return 0;
}

struct Counts {
  std::uint64_t successes = 0, failures = 0, ignored = 0;
};

Counts CountsOf(const circuit::CircuitBreakerSet& set, std::string_view peer) {
  auto s = set.snapshot(peer);
  if (!s.has_value()) return {};
  return {s->successes, s->failures, s->ignored};
}

struct GuardedFixture {
  net::io_context io;
  circuit::CircuitBreakerSet set{Patient()};
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(GuardedTest, GuardedFixture)

BOOST_AUTO_TEST_CASE(ReturnsTheValueAndRecordsASuccess) {
  int v = RunOn(io, circuit::asio::guarded(set, "p", Return(42)));

  BOOST_TEST(v == 42);
  Counts c = CountsOf(set, "p");
  BOOST_TEST(c.successes == 1u);
  BOOST_TEST(c.failures == 0u);
}

BOOST_AUTO_TEST_CASE(VoidAwaitablesRecordASuccess) {
  auto op = []() -> awaitable<void> { co_return; };

  RunOn(io, circuit::asio::guarded(set, "p", op()));

  BOOST_TEST(CountsOf(set, "p").successes == 1u);
}

BOOST_AUTO_TEST_CASE(RethrowsAnExceptionAndCountsIt) {
  BOOST_CHECK_EXCEPTION(
      RunOn(io, circuit::asio::guarded(set, "p",
                                       Throw(std::runtime_error("boom")))),
      std::runtime_error, [](const std::runtime_error& e) {
        return std::string(e.what()) == "boom";
      });

  BOOST_TEST(CountsOf(set, "p").failures == 1u);
}

BOOST_AUTO_TEST_CASE(ClassifiesExceptionsByTheSetsTypes) {
  set.ignore_error<std::logic_error>();
  set.handle_error<std::runtime_error>();

  BOOST_CHECK_THROW(
      RunOn(io, circuit::asio::guarded(set, "p", Throw(std::logic_error("x")))),
      std::logic_error);
  BOOST_CHECK_THROW(
      RunOn(io, circuit::asio::guarded(set, "p", Throw(std::bad_alloc()))),
      std::bad_alloc);
  BOOST_CHECK_THROW(RunOn(io, circuit::asio::guarded(
                                  set, "p", Throw(std::runtime_error("y")))),
                    std::runtime_error);

  Counts c = CountsOf(set, "p");
  BOOST_TEST(c.ignored == 1u);    // logic_error
  BOOST_TEST(c.successes == 1u);  // bad_alloc: not a handled type
  BOOST_TEST(c.failures == 1u);   // runtime_error
}

BOOST_AUTO_TEST_CASE(ClassifiesBoostErrorCodesByTheDefaultPolicy) {
  struct Row {
    error_code ec;
    circuit::asio::Verdict want;
  };
  const Row rows[] = {
      {{}, circuit::asio::Verdict::kSuccess},
      {net::error::connection_refused, circuit::asio::Verdict::kFailure},
      {net::error::connection_reset, circuit::asio::Verdict::kFailure},
      {net::error::timed_out, circuit::asio::Verdict::kFailure},
      {net::error::host_unreachable, circuit::asio::Verdict::kFailure},
      {net::error::network_unreachable, circuit::asio::Verdict::kFailure},
      {net::error::broken_pipe, circuit::asio::Verdict::kFailure},
      {net::error::eof, circuit::asio::Verdict::kFailure},
      {net::error::operation_aborted, circuit::asio::Verdict::kIgnore},
      {net::error::invalid_argument, circuit::asio::Verdict::kSuccess},
      {net::error::message_size, circuit::asio::Verdict::kSuccess},
  };
  for (const Row& row : rows) {
    std::string peer =
        "p-" + std::to_string(row.ec.value()) + row.ec.category().name();

    error_code got =
        RunOn(io, circuit::asio::guarded(set, peer, Return(row.ec)));

    BOOST_TEST(got == row.ec);
    Counts c = CountsOf(set, peer);
    BOOST_TEST_INFO("code " << row.ec.message());
    BOOST_TEST(c.successes ==
               (row.want == circuit::asio::Verdict::kSuccess ? 1u : 0u));
    BOOST_TEST(c.failures ==
               (row.want == circuit::asio::Verdict::kFailure ? 1u : 0u));
    BOOST_TEST(c.ignored ==
               (row.want == circuit::asio::Verdict::kIgnore ? 1u : 0u));
  }
}

BOOST_AUTO_TEST_CASE(ClassifiesStdErrorCodesByErrnoValue) {
  circuit::asio::ErrorPolicy policy;

  BOOST_TEST(
      (policy.classify(std::make_error_code(std::errc::connection_refused)) ==
       circuit::asio::Verdict::kFailure));
  BOOST_TEST((policy.classify(std::make_error_code(std::errc::timed_out)) ==
              circuit::asio::Verdict::kFailure));
  BOOST_TEST(
      (policy.classify(std::error_code(ECONNRESET, std::system_category())) ==
       circuit::asio::Verdict::kFailure));
  BOOST_TEST(
      (policy.classify(std::make_error_code(std::errc::operation_canceled)) ==
       circuit::asio::Verdict::kIgnore));
  BOOST_TEST(
      (policy.classify(std::make_error_code(std::errc::invalid_argument)) ==
       circuit::asio::Verdict::kSuccess));
  BOOST_TEST(
      (policy.classify(std::error_code()) == circuit::asio::Verdict::kSuccess));

  auto op = Return(std::make_error_code(std::errc::connection_reset));
  std::error_code got =
      RunOn(io, circuit::asio::guarded(set, "p", std::move(op)));

  BOOST_TEST((got == std::errc::connection_reset));
  BOOST_TEST(CountsOf(set, "p").failures == 1u);
}

BOOST_AUTO_TEST_CASE(ClassifiesTheFirstElementOfTupleAndPairResults) {
  using Tuple = std::tuple<error_code, std::size_t>;
  using Pair = std::pair<std::error_code, int>;

  Tuple t =
      RunOn(io, circuit::asio::guarded(
                    set, "t", Return(Tuple{net::error::connection_reset, 7})));
  Pair p = RunOn(
      io, circuit::asio::guarded(
              set, "p",
              Return(Pair{std::make_error_code(std::errc::timed_out), 9})));
  Tuple ok = RunOn(
      io, circuit::asio::guarded(set, "ok", Return(Tuple{error_code(), 3})));

  BOOST_TEST(std::get<1>(t) == 7u);
  BOOST_TEST(p.second == 9);
  BOOST_TEST(std::get<1>(ok) == 3u);
  BOOST_TEST(CountsOf(set, "t").failures == 1u);
  BOOST_TEST(CountsOf(set, "p").failures == 1u);
  BOOST_TEST(CountsOf(set, "ok").successes == 1u);
}

BOOST_AUTO_TEST_CASE(TheFailureSetIsConfigurable) {
  auto policy =
      circuit::asio::ErrorPolicy()
          .fail_on(net::error::operation_aborted)
          .succeed_on(net::error::eof)
          .ignore(std::make_error_code(std::errc::connection_refused));
  auto strict =
      circuit::asio::ErrorPolicy().otherwise(circuit::asio::Verdict::kFailure);
  auto none = circuit::asio::ErrorPolicy::none();
  circuit::asio::ErrorPolicy defaults;

  RunOn(io, circuit::asio::guarded(
                set, "aborted",
                Return(error_code(net::error::operation_aborted)), policy));
  RunOn(io, circuit::asio::guarded(
                set, "eof", Return(error_code(net::error::eof)), policy));
  RunOn(io, circuit::asio::guarded(
                set, "refused",
                Return(error_code(net::error::connection_refused)), policy));
  RunOn(io, circuit::asio::guarded(
                set, "invalid",
                Return(error_code(net::error::invalid_argument)), strict));
  RunOn(io, circuit::asio::guarded(
                set, "reset", Return(error_code(net::error::connection_reset)),
                none));

  BOOST_TEST(CountsOf(set, "aborted").failures == 1u);
  BOOST_TEST(CountsOf(set, "eof").successes == 1u);
  BOOST_TEST(CountsOf(set, "refused").ignored == 1u);
  BOOST_TEST(CountsOf(set, "invalid").failures == 1u);
  BOOST_TEST(CountsOf(set, "reset").successes == 1u);
  // Copies share rules until changed: the defaults are untouched.
  BOOST_TEST((defaults.classify(net::error::operation_aborted) ==
              circuit::asio::Verdict::kIgnore));
  BOOST_TEST(
      (defaults.classify(net::error::eof) == circuit::asio::Verdict::kFailure));
  BOOST_TEST(
      (circuit::asio::ErrorPolicy().classify(net::error::connection_refused) ==
       circuit::asio::Verdict::kFailure));
}

BOOST_AUTO_TEST_CASE(SystemErrorExceptionsCanBeClassifiedByCode) {
  auto by_code = circuit::asio::ErrorPolicy().classify_system_errors();
  auto aborted = [] {
    return Throw(boost::system::system_error(net::error::operation_aborted));
  };

  BOOST_CHECK_THROW(RunOn(io, circuit::asio::guarded(set, "typed", aborted())),
                    boost::system::system_error);
  BOOST_CHECK_THROW(
      RunOn(io, circuit::asio::guarded(set, "coded", aborted(), by_code)),
      boost::system::system_error);
  BOOST_CHECK_THROW(RunOn(io, circuit::asio::guarded(
                                  set, "std",
                                  Throw(std::system_error(std::make_error_code(
                                      std::errc::connection_refused))),
                                  by_code)),
                    std::system_error);

  BOOST_TEST(CountsOf(set, "typed").failures == 1u);  // as call(): counted
  BOOST_TEST(CountsOf(set, "coded").ignored == 1u);
  BOOST_TEST(CountsOf(set, "std").failures == 1u);
}

BOOST_AUTO_TEST_CASE(RejectionThrowsCircuitOpenErrorForPlainResults) {
  set.open("p");
  bool started = false;

  BOOST_CHECK_EXCEPTION(
      RunOn(io, circuit::asio::guarded(set, "p", Return(1, &started))),
      circuit::CircuitOpenError,
      [](const circuit::CircuitOpenError& e) { return e.peer() == "p"; });

  BOOST_TEST(!started);
  BOOST_TEST(set.snapshot("p")->rejections == 1u);
}

// The predicates match the code and the category both: another category's
// code of the same value, or another circuit code, is not it.
BOOST_AUTO_TEST_CASE(ThePredicatesMatchValueAndCategory) {
  namespace ca = circuit::asio;
  const auto same_value_boost = boost::system::error_code(
      static_cast<int>(ca::errc::circuit_open), boost::system::generic_category());
  const auto same_value_std = std::error_code(
      static_cast<int>(ca::errc::circuit_open), std::generic_category());

  BOOST_TEST(ca::is_circuit_open(ca::make_error_code(ca::errc::circuit_open)));
  BOOST_TEST(ca::is_circuit_open(ca::make_std_error_code(ca::errc::circuit_open)));
  BOOST_TEST(!ca::is_circuit_open(same_value_boost));
  BOOST_TEST(!ca::is_circuit_open(same_value_std));
  BOOST_TEST(!ca::is_circuit_open(ca::make_error_code(ca::errc::concurrency_limit)));
  BOOST_TEST(!ca::is_concurrency_limited(ca::make_error_code(ca::errc::circuit_open)));
  BOOST_TEST(ca::is_concurrency_limited(
      ca::make_std_error_code(ca::errc::concurrency_limit)));
  BOOST_TEST(!ca::is_concurrency_limited(std::error_code(
      static_cast<int>(ca::errc::concurrency_limit), std::generic_category())));
}

BOOST_AUTO_TEST_CASE(RejectionIsReturnedAsCircuitOpenForErrorCodeResults) {
  using Tuple = std::tuple<error_code, std::size_t>;
  set.open("p");
  bool started = false;

  Tuple t = RunOn(io, circuit::asio::guarded(
                          set, "p", Return(Tuple{error_code(), 5}, &started)));
  std::error_code s =
      RunOn(io, circuit::asio::guarded(set, "p", Return(std::error_code())));

  BOOST_TEST(!started);
  BOOST_TEST(circuit::asio::is_circuit_open(std::get<0>(t)));
  BOOST_TEST((std::get<0>(t) == circuit::asio::errc::circuit_open));
  BOOST_TEST(std::get<1>(t) == 0u);
  BOOST_TEST(circuit::asio::is_circuit_open(s));
  BOOST_TEST(std::get<0>(t).message() == "circuit open");
  BOOST_TEST(set.snapshot("p")->rejections == 2u);
}

BOOST_AUTO_TEST_CASE(AFullBulkheadIsReturnedAsConcurrencyLimitOrThrown) {
  using Tuple = std::tuple<error_code, std::size_t>;
  circuit::BreakerOptions one;
  one.max_concurrent_calls = 1;
  set.configure("p", one);
  circuit::Context held = set.context("p");
  bool started = false;

  Tuple t = RunOn(io, circuit::asio::guarded(
                          set, "p", Return(Tuple{error_code(), 5}, &started)));
  BOOST_CHECK_EXCEPTION(
      RunOn(io, circuit::asio::guarded(set, "p", Return(1, &started))),
      circuit::ConcurrencyLimitError,
      [](const circuit::ConcurrencyLimitError& e) { return e.peer() == "p"; });

  BOOST_TEST(!started);
  BOOST_TEST(circuit::asio::is_concurrency_limited(std::get<0>(t)));
  BOOST_TEST(!circuit::asio::is_circuit_open(std::get<0>(t)));
  BOOST_TEST(std::get<0>(t).message() == "concurrency limit reached");
  BOOST_TEST(set.snapshot("p")->failures == 0u);
}

BOOST_AUTO_TEST_CASE(ThrowOnRejectionMakesEveryRejectionThrow) {
  set.open("p");
  auto policy = circuit::asio::ErrorPolicy().throw_on_rejection();

  BOOST_CHECK_THROW(
      RunOn(io, circuit::asio::guarded(set, "p", Return(error_code()), policy)),
      circuit::CircuitOpenError);
}

BOOST_AUTO_TEST_CASE(BadPeerIdsThrowInvalidArgumentInBothForms) {
  BOOST_CHECK_THROW(
      RunOn(io, circuit::asio::guarded(set, "", Return(error_code()))),
      std::invalid_argument);
  BOOST_CHECK_THROW(RunOn(io, circuit::asio::guarded(set, "", Return(1))),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(HandlesAndHeldContextsAreGuardedToo) {
  circuit::PeerHandle h = set.handle("h");

  int a = RunOn(io, circuit::asio::guarded(h, Return(1)));
  error_code b = RunOn(
      io, circuit::asio::guarded(set.context("c"),
                                 Return(error_code(net::error::timed_out))));

  BOOST_TEST(a == 1);
  BOOST_TEST(b == net::error::timed_out);
  BOOST_TEST(CountsOf(set, "h").successes == 1u);
  BOOST_TEST(CountsOf(set, "c").failures == 1u);
}

BOOST_AUTO_TEST_CASE(AHeldProbeNeverAwaitedIsGivenBack) {
  set.half_open("p");
  circuit::Context probe = set.context("p");
  BOOST_REQUIRE(probe.probe());
  BOOST_REQUIRE(!set.would_admit("p"));

  { auto never = circuit::asio::guarded(std::move(probe), Return(1)); }

  BOOST_TEST(CountsOf(set, "p").ignored == 1u);
  BOOST_TEST(set.would_admit("p"));
  BOOST_TEST((set.state("p") == circuit::State::kHalfOpen));
}

BOOST_AUTO_TEST_CASE(AnAwaitableDestroyedInFlightRecordsNothingAgainstThePeer) {
  set.half_open("p");
  {
    net::io_context local;
    auto forever = []() -> awaitable<int> {
      net::steady_timer t(co_await net::this_coro::executor,
                          std::chrono::hours(24));
      co_await t.async_wait(net::use_awaitable);
      co_return 0;
    };
    net::co_spawn(local, circuit::asio::guarded(set, "p", forever()),
                  [](std::exception_ptr, int) {});
    local.poll();  // admitted (the probe), now waiting on the timer
    BOOST_REQUIRE(!set.would_admit("p"));
  }  // the io_context destroys the suspended coroutine

  Counts c = CountsOf(set, "p");
  BOOST_TEST(c.ignored == 1u);
  BOOST_TEST(c.successes == 0u);
  BOOST_TEST(set.would_admit("p"));
}

// Real coroutines on loopback sockets.

awaitable<void> EchoOnce(tcp::acceptor& acceptor) {
  tcp::socket s = co_await acceptor.async_accept(net::use_awaitable);
  char buf[5];
  co_await net::async_read(s, net::buffer(buf), net::use_awaitable);
  co_await net::async_write(s, net::buffer(buf), net::use_awaitable);
}

// Connects, sends "hello", reads it back; every error as a code.
awaitable<std::tuple<error_code, std::string>> Echo(tcp::endpoint ep) {
  tcp::socket s(co_await net::this_coro::executor);
  error_code ec;
  co_await s.async_connect(ep, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return std::tuple{ec, std::string()};
  co_await net::async_write(s, net::buffer("hello", 5),
                            net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return std::tuple{ec, std::string()};
  std::string reply(5, '\0');
  co_await net::async_read(s, net::buffer(reply),
                           net::redirect_error(net::use_awaitable, ec));
  co_return std::tuple{ec, reply};
}

BOOST_AUTO_TEST_CASE(LoopbackEchoSucceedsAndAClosedPortFails) {
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  tcp::endpoint up = acceptor.local_endpoint();
  tcp::endpoint down(net::ip::address_v4::loopback(), ClosedPort());
  net::co_spawn(io, EchoOnce(acceptor), net::detached);

  auto [ec1, reply] = RunOn(io, circuit::asio::guarded(set, "up", Echo(up)));
  auto [ec2, none] = RunOn(io, circuit::asio::guarded(set, "down", Echo(down)));

  BOOST_TEST(!ec1);
  BOOST_TEST(reply == "hello");
  BOOST_TEST(ec2 == net::error::connection_refused);
  BOOST_TEST(CountsOf(set, "up").successes == 1u);
  BOOST_TEST(CountsOf(set, "down").failures == 1u);
}

BOOST_AUTO_TEST_CASE(LoopbackUseAwaitableThrowsAndTripsTheBreaker) {
  circuit::SetOptions o;
  o.defaults.max_failures = 0;  // the first counted failure opens
  circuit::CircuitBreakerSet strict(o);
  tcp::endpoint down(net::ip::address_v4::loopback(), ClosedPort());
  auto connect = [&]() -> awaitable<void> {
    tcp::socket s(co_await net::this_coro::executor);
    co_await s.async_connect(down, net::use_awaitable);
  };

  BOOST_CHECK_EXCEPTION(
      RunOn(io, circuit::asio::guarded(strict, "down", connect())),
      boost::system::system_error, [](const boost::system::system_error& e) {
        return e.code() == net::error::connection_refused;
      });
  BOOST_CHECK_THROW(
      RunOn(io, circuit::asio::guarded(strict, "down", connect())),
      circuit::CircuitOpenError);

  BOOST_TEST((strict.state("down") == circuit::State::kOpen));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
