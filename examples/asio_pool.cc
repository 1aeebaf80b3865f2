// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// A client pool over Boost.Asio coroutines, guarded per peer.
//
// Starts six TCP servers on loopback ephemeral ports inside the process:
// two healthy echo servers, a closed port (connection refused), one that
// resets every connection, one that stalls (reads, never answers), and a
// flaky one that resets its first three connections and then recovers.
// Four client workers send line requests for about three seconds, each
// picking the next peer whose breaker admits it (`first_admitting`, which
// skips open peers without counting rejections and reserves a half-open
// peer's probe slot), with a per-request timeout. Trips are logged through
// spdlog; a summary is printed at the end. Exits 0 when the breakers did
// what they should (healthy peers served, bad ones tripped, the flaky one
// closed again).

// clang-format off
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>: include it before any Boost.Asio header (DESIGN.md section 4).
#include <utility>
// clang-format on

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "circuit/asio.h"
#include "circuit/circuit.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace net = boost::asio;
using boost::system::error_code;
using net::awaitable;
using net::use_awaitable;
using net::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr auto kRunFor = milliseconds(3000);
constexpr auto kRequestTimeout = milliseconds(250);
constexpr int kWorkers = 4;

// ---------------------------------------------------------------------------
// The servers

enum class Behaviour { kEcho, kReset, kStall, kFlaky };

struct Server {
  std::string name;
  Behaviour behaviour;
  int accepted = 0;
};

// Closes `s` with an RST instead of a FIN.
void Reset(tcp::socket& s) {
  error_code ignored;
  s.set_option(net::socket_base::linger(true, 0), ignored);
  s.close(ignored);
}

awaitable<void> Session(tcp::socket s, Behaviour behaviour) {
  std::string buf;
  error_code ec;
  for (;;) {
    std::size_t n =
        co_await net::async_read_until(s, net::dynamic_buffer(buf), '\n',
                                       net::redirect_error(use_awaitable, ec));
    if (ec) co_return;  // the client hung up (a stalled one, on timeout)
    if (behaviour == Behaviour::kReset) {
      Reset(s);
      co_return;
    }
    if (behaviour == Behaviour::kStall) continue;  // never answers
    co_await net::async_write(s, net::buffer(buf.data(), n),
                              net::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    buf.erase(0, n);
  }
}

awaitable<void> Serve(tcp::acceptor& acceptor, Server& server) {
  for (;;) {
    error_code ec;
    tcp::socket s =
        co_await acceptor.async_accept(net::redirect_error(use_awaitable, ec));
    if (ec) co_return;  // closed at shutdown
    Behaviour b = server.behaviour;
    if (b == Behaviour::kFlaky) {
      b = ++server.accepted <= 3 ? Behaviour::kReset : Behaviour::kEcho;
    }
    net::co_spawn(acceptor.get_executor(), Session(std::move(s), b),
                  net::detached);
  }
}

// ---------------------------------------------------------------------------
// The client side

// One request: connect, send `line`, read the echoed line, all under
// `timeout`. Every outcome is an error code; a timeout is reported as
// `timed_out` (not the operation_aborted the cancelled socket shows), so the
// breaker counts it.
awaitable<std::tuple<error_code, std::string>> Request(
    tcp::endpoint ep, std::string line, steady_clock::duration timeout) {
  auto ex = co_await net::this_coro::executor;
  auto sock = std::make_shared<tcp::socket>(ex);
  auto expired = std::make_shared<bool>(false);
  net::steady_timer timer(ex, timeout);
  timer.async_wait([sock, expired](const error_code& ec) {
    if (ec) return;  // cancelled: the request finished in time
    *expired = true;
    error_code ignored;
    sock->close(ignored);
  });

  error_code ec;
  std::string reply;
  co_await sock->async_connect(ep, net::redirect_error(use_awaitable, ec));
  if (!ec) {
    co_await net::async_write(*sock, net::buffer(line),
                              net::redirect_error(use_awaitable, ec));
  }
  if (!ec) {
    co_await net::async_read_until(*sock, net::dynamic_buffer(reply), '\n',
                                   net::redirect_error(use_awaitable, ec));
  }
  timer.cancel();
  if (ec && *expired) ec = net::error::timed_out;
  co_return std::tuple{ec, reply};
}

struct PeerStats {
  int ok = 0;
  int failed = 0;
  int probes = 0;
};

struct Pool {
  circuit::CircuitBreakerSet* set;
  std::vector<std::string> names;
  std::vector<tcp::endpoint> endpoints;
  std::vector<PeerStats> stats;
  std::size_t next = 0;  // round-robin start (one io thread: no race)
  int unavailable = 0;   // times no peer admitted
};

awaitable<void> Worker(Pool& pool, int id, steady_clock::time_point until) {
  auto ex = co_await net::this_coro::executor;
  int n = 0;
  while (steady_clock::now() < until) {
    // Picks the next peer whose breaker admits; a half-open peer's probe
    // slot is reserved for us here, so no other worker probes it too.
    std::optional<circuit::Pick> pick =
        pool.set->first_admitting(pool.names, pool.next++);
    if (!pick.has_value()) {
      ++pool.unavailable;
      net::steady_timer pause(ex, milliseconds(50));
      co_await pause.async_wait(use_awaitable);
      continue;
    }
    std::size_t i = pick->index;
    if (pick->context.probe()) ++pool.stats[i].probes;
    std::string line = "worker " + std::to_string(id) + " request " +
                       std::to_string(n++) + "\n";

    auto [ec, reply] = co_await circuit::asio::guarded(
        std::move(pick->context),
        Request(pool.endpoints[i], line, kRequestTimeout));

    if (!ec && reply == line) {
      ++pool.stats[i].ok;
    } else {
      ++pool.stats[i].failed;
    }
  }
}

}  // namespace

int main() {
  auto logger = std::make_shared<spdlog::logger>(
      "circuit", std::make_shared<spdlog::sinks::stdout_sink_mt>());
  logger->set_pattern("[%H:%M:%S.%e] [%l] %v");

  circuit::SetOptions options;
  options.logger = logger;            // trips are logged at warn
  options.defaults.max_failures = 2;  // the 3rd failure in 10 s opens
  options.defaults.time_unit = absl::Seconds(10);
  options.defaults.reset_timeout = absl::Seconds(1);
  circuit::CircuitBreakerSet set(options);

  net::io_context io;
  std::vector<Server> servers = {
      {"echo-1", Behaviour::kEcho}, {"echo-2", Behaviour::kEcho},
      {"refuse", Behaviour::kEcho}, {"reset", Behaviour::kReset},
      {"stall", Behaviour::kStall}, {"flaky", Behaviour::kFlaky},
  };
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  Pool pool{&set, {}, {}, std::vector<PeerStats>(servers.size())};
  const auto loopback = net::ip::address_v4::loopback();
  for (Server& s : servers) {
    auto a = std::make_unique<tcp::acceptor>(io, tcp::endpoint(loopback, 0));
    tcp::endpoint ep = a->local_endpoint();
    pool.names.push_back(s.name + "@" + ep.address().to_string() + ":" +
                         std::to_string(ep.port()));
    pool.endpoints.push_back(ep);
    if (s.name == "refuse") {
      a->close();  // nothing listens there any more: connection refused
    } else {
      net::co_spawn(io, Serve(*a, s), net::detached);
    }
    acceptors.push_back(std::move(a));
  }

  auto until = steady_clock::now() + kRunFor;
  int running = kWorkers;
  for (int id = 0; id < kWorkers; ++id) {
    net::co_spawn(io, Worker(pool, id, until), [&](std::exception_ptr e) {
      if (e) logger->error("a worker failed");
      if (--running == 0) io.stop();  // servers and sessions are abandoned
    });
  }
  io.run();

  std::printf("\n%-24s %6s %6s %6s %8s %6s  %s\n", "peer", "ok", "failed",
              "probes", "rejected", "trips", "state now");
  bool healthy_served = true, bad_tripped = true;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    const PeerStats& st = pool.stats[i];
    auto snap = set.snapshot(pool.names[i]);
    std::uint64_t trips = snap ? snap->trips : 0;
    std::printf(
        "%-24s %6d %6d %6d %8llu %6llu  %s\n", pool.names[i].c_str(), st.ok,
        st.failed, st.probes,
        static_cast<unsigned long long>(snap ? snap->rejections : 0),
        static_cast<unsigned long long>(trips),
        std::string(circuit::state_name(set.state(pool.names[i]))).c_str());
    const std::string& name = servers[i].name;
    if (name.rfind("echo", 0) == 0 && (st.ok == 0 || trips != 0)) {
      healthy_served = false;
    }
    if ((name == "refuse" || name == "reset" || name == "stall") &&
        trips == 0) {
      bad_tripped = false;
    }
  }
  const std::size_t flaky = servers.size() - 1;
  bool flaky_recovered =
      pool.stats[flaky].ok > 0 && set.snapshot(pool.names[flaky])->trips >= 1 &&
      set.state(pool.names[flaky]) == circuit::State::kClosed;
  std::printf("no peer admitted: %d times\n", pool.unavailable);
  std::printf(
      "healthy peers served: %s; bad peers tripped: %s; flaky peer "
      "recovered: %s\n",
      healthy_served ? "yes" : "NO", bad_tripped ? "yes" : "NO",
      flaky_recovered ? "yes" : "NO");
  return healthy_served && bad_tripped && flaky_recovered ? 0 : 1;
}
