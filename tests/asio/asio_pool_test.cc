// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Contexts moved into Asio completion handlers and settled there (real
// loopback sockets, io_context on another thread), and what pools need:
// would_admit() takes nothing, first_admitting() never hands one probe slot
// to two pickers.

// clang-format off
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>: include it before any Boost.Asio header (DESIGN.md section 4).
#include <utility>
// clang-format on

#include <array>
#include <barrier>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "asio_test_util.h"
#include "circuit/asio.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"

namespace net = boost::asio;
using boost::system::error_code;
using net::ip::tcp;

namespace circuit::testing {
namespace {

// An io_context running on its own thread until destroyed.
class IoThread {
 public:
  IoThread()
      : work_(net::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  net::io_context& io() { return io_; }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::thread thread_;
};

// One open peer ("open", reset timeout 10 s, on `clock`).
circuit::SetOptions OnClock(const circuit::Clock* clock) {
  circuit::SetOptions o;
  o.clock = clock;
  o.defaults.max_failures = 0;
  o.defaults.reset_timeout = absl::Seconds(10);
  return o;
}

// Two threads pick from `peers` at once, `rounds` times. Before each round
// `reset()` runs alone; once both have picked (and nobody has given a slot
// back), `check(got)` runs alone; then both give their picks back.
template <class Peers, class Reset, class Check>
void RacePickers(circuit::CircuitBreakerSet& set, const Peers& peers, int rounds,
                 Reset reset, Check check) {
  std::array<std::optional<circuit::Pick>, 2> got;
  std::barrier sync(2, []() noexcept {});
  auto picker = [&](int who) {
    for (int round = 0; round < rounds; ++round) {
      if (who == 0) reset();
      sync.arrive_and_wait();
      got[who] = set.first_admitting(peers);
      sync.arrive_and_wait();
      if (who == 0) check(got);
      sync.arrive_and_wait();
      if (got[who]) got[who]->context.ignore();
      got[who].reset();
      sync.arrive_and_wait();
    }
  };
  std::thread other(picker, 1);
  picker(0);
  other.join();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(CompletionHandlerTest)

BOOST_AUTO_TEST_CASE(AContextMovedIntoAHandlerRecordsARefusedConnect) {
  circuit::CircuitBreakerSet set(Patient());
  IoThread io;
  auto sock = std::make_shared<tcp::socket>(io.io());
  std::promise<std::pair<std::thread::id, circuit::asio::Verdict>> done;
  tcp::endpoint down(net::ip::address_v4::loopback(), ClosedPort());

  sock->async_connect(down, [sock, &done, ctx = set.context("down")](
                                const error_code& ec) mutable {
    done.set_value(
        {std::this_thread::get_id(), circuit::asio::settle(ctx, ec)});
  });
  auto [thread, verdict] = done.get_future().get();

  BOOST_TEST((thread == io.id()));
  BOOST_TEST((verdict == circuit::asio::Verdict::kFailure));
  BOOST_TEST(set.snapshot("down")->failures == 1u);
  BOOST_TEST(set.snapshot("down")->successes == 0u);
}

BOOST_AUTO_TEST_CASE(AContextCarriedThroughAnEchoExchangeRecordsASuccess) {
  circuit::CircuitBreakerSet set(Patient());
  IoThread io;
  tcp::acceptor acceptor(io.io(),
                         tcp::endpoint(net::ip::address_v4::loopback(), 0));
  auto server = std::make_shared<tcp::socket>(io.io());
  auto server_buf = std::make_shared<std::array<char, 4>>();
  acceptor.async_accept(*server, [server, server_buf](const error_code& ec) {
    if (ec) return;
    net::async_read(*server, net::buffer(*server_buf),
                    [server, server_buf](const error_code& e, std::size_t) {
                      if (e) return;
                      net::async_write(*server, net::buffer(*server_buf),
                                       [server, server_buf](const error_code&,
                                                            std::size_t) {});
                    });
  });
  auto client = std::make_shared<tcp::socket>(io.io());
  auto reply = std::make_shared<std::array<char, 4>>();
  std::promise<std::string> done;

  // The context travels connect -> write -> read and is settled at the end.
  client->async_connect(
      acceptor.local_endpoint(),
      [client, reply, &done,
       ctx = set.context("up")](const error_code& ec) mutable {
        if (circuit::asio::settle(ctx, ec) !=
                circuit::asio::Verdict::kSuccess ||
            ec) {
          return done.set_value("connect: " + ec.message());
        }
        net::async_write(
            *client, net::buffer("ping", 4),
            [client, reply, &done, ctx = std::move(ctx)](const error_code& ec2,
                                                         std::size_t) mutable {
              if (ec2) {
                circuit::asio::settle(ctx, ec2);
                return done.set_value("write: " + ec2.message());
              }
              net::async_read(
                  *client, net::buffer(*reply),
                  [client, reply, &done, ctx = std::move(ctx)](
                      const error_code& ec3, std::size_t) mutable {
                    circuit::asio::settle(ctx, ec3);
                    done.set_value(ec3 ? "read: " + ec3.message()
                                       : std::string(reply->data(), 4));
                  });
            });
      });
  std::string got = done.get_future().get();

  BOOST_TEST(got == "ping");
  BOOST_TEST(set.snapshot("up")->successes == 1u);
  BOOST_TEST(set.snapshot("up")->failures == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(PoolPickingTest)

BOOST_AUTO_TEST_CASE(WouldAdmitTakesNoProbeSlotAndCountsNoRejection) {
  circuit::ManualClock clock;
  circuit::CircuitBreakerSet set(OnClock(&clock));
  set.context("p").fail();  // opens
  BOOST_REQUIRE((set.state("p") == circuit::State::kOpen));

  bool while_open = set.would_admit("p");
  clock.advance(absl::Seconds(10));
  bool after_timeout[3] = {set.would_admit("p"), set.would_admit("p"),
                           set.would_admit("p")};

  BOOST_TEST(!while_open);
  for (bool b : after_timeout) BOOST_TEST(b);
  auto snap = set.snapshot("p");
  BOOST_TEST(snap->rejections == 0u);
  BOOST_TEST(snap->probes_in_flight == 0);
  // The probe slot is still there for the first real caller, and only one.
  auto probe = set.try_context("p");
  BOOST_REQUIRE(probe.ok());
  BOOST_TEST(probe->probe());
  BOOST_TEST(!set.would_admit("p"));
  BOOST_TEST(!set.try_context("p").ok());
}

BOOST_AUTO_TEST_CASE(WouldAdmitReadsEveryStateAndCreatesNoPeer) {
  circuit::CircuitBreakerSet set;
  set.context("closed").succeed();
  set.open("open");
  set.force_open("forced");
  set.disable("disabled");
  set.half_open("half");
  std::size_t tracked = set.size();

  BOOST_TEST(set.would_admit("closed"));
  BOOST_TEST(!set.would_admit("open"));
  BOOST_TEST(!set.would_admit("forced"));
  BOOST_TEST(set.would_admit("disabled"));
  BOOST_TEST(set.would_admit("half"));
  BOOST_TEST(set.would_admit("never-seen"));
  BOOST_TEST(!set.would_admit(""));
  BOOST_TEST(set.size() == tracked);
  BOOST_TEST(set.handle("half").would_admit());
}

BOOST_AUTO_TEST_CASE(FirstAdmittingSkipsRejectingPeersWithoutCountingThem) {
  circuit::CircuitBreakerSet set;
  set.open("a");
  const std::vector<std::string> peers = {"a", "b", "c"};

  auto first = set.first_admitting(peers);
  auto from_c = set.first_admitting(peers, 2);
  auto wraps = set.first_admitting(peers, 3);  // start % size == 0

  BOOST_REQUIRE(first.has_value());
  BOOST_TEST(first->index == 1u);
  BOOST_TEST(first->context.peer() == "b");
  BOOST_REQUIRE(from_c.has_value());
  BOOST_TEST(from_c->index == 2u);
  BOOST_REQUIRE(wraps.has_value());
  BOOST_TEST(wraps->index == 1u);
  BOOST_TEST(set.snapshot("a")->rejections == 0u);
}

BOOST_AUTO_TEST_CASE(FirstAdmittingFindsNothingWhenNoPeerAdmits) {
  circuit::CircuitBreakerSet set;
  set.open("a");
  set.force_open("b");
  const std::string_view peers[] = {"a", "b", ""};

  BOOST_TEST(!set.first_admitting(peers).has_value());
  BOOST_TEST(
      !set.first_admitting(std::span<const std::string_view>()).has_value());
  BOOST_TEST(set.snapshot("a")->rejections == 0u);
}

BOOST_AUTO_TEST_CASE(FirstAdmittingOverHandlesTakesTheProbe) {
  circuit::CircuitBreakerSet set;
  set.open("a");
  set.half_open("b");
  const circuit::PeerHandle handles[] = {set.handle("a"), circuit::PeerHandle(),
                                         set.handle("b")};

  auto pick = circuit::CircuitBreakerSet::first_admitting(handles);
  auto again = circuit::CircuitBreakerSet::first_admitting(handles);

  BOOST_REQUIRE(pick.has_value());
  BOOST_TEST(pick->index == 2u);
  BOOST_TEST(pick->context.probe());
  BOOST_TEST(!again.has_value());  // b's only probe slot is taken
}

// Two threads race for the one probe slot of a half-open peer, round after
// round: exactly one of them gets it each time.
BOOST_AUTO_TEST_CASE(TwoConcurrentPickersNeverBothGetTheProbe) {
  circuit::CircuitBreakerSet set;  // half_open_max_calls = 1
  const std::string_view peers[] = {"p"};
  int both = 0, neither = 0, not_probe = 0;

  RacePickers(
      set, peers, 500, [&] { set.half_open("p"); },  // every probe slot free
      [&](const auto& got) {
        if (got[0] && got[1]) ++both;
        if (!got[0] && !got[1]) ++neither;
        for (const auto& g : got) {
          if (g && !g->context.probe()) ++not_probe;
        }
      });

  BOOST_TEST(both == 0);
  BOOST_TEST(neither == 0);
  BOOST_TEST(not_probe == 0);
}

// With two half-open candidates, two racing pickers take one probe each.
BOOST_AUTO_TEST_CASE(RacingPickersSpreadOverHalfOpenPeers) {
  circuit::CircuitBreakerSet set;
  const std::string peers[] = {"p", "q"};
  int same = 0, missing = 0;

  RacePickers(
      set, peers, 300,
      [&] {
        set.half_open("p");
        set.half_open("q");
      },
      [&](const auto& got) {
        if (!got[0] || !got[1]) {
          ++missing;
        } else if (got[0]->index == got[1]->index) {
          ++same;
        }
      });

  BOOST_TEST(same == 0);
  BOOST_TEST(missing == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
