// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Logging through spdlog: one line per state change with the peer id (open
// at warn, half-open and closed at info, probes at debug), silence without
// a logger, and coalescing of a flapping peer's trips per log_interval.

#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "spdlog/spdlog.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// A set that opens on the first failure for 1 s, logging to `log`.
struct LoggingFixture {
  LoggingFixture() {
    SetOptions o = ManualOptions(&clock, /*max_failures=*/0, absl::Seconds(60),
                                 absl::Seconds(1));
    o.logger = log.logger;
    o.log_interval = absl::Seconds(10);
    set = std::make_unique<CircuitBreakerSet>(o);
  }

  void At(absl::Duration t) { clock.set(absl::UnixEpoch() + t); }

  // A probe of `peer` admitted now that fails.
  void FailedProbe(std::string_view peer) {
    Context probe = set->context(peer);
    BOOST_REQUIRE(probe.probe());
    probe.fail();
  }

  ManualClock clock;
  Captured log;
  std::unique_ptr<CircuitBreakerSet> set;
};

// The lines logged at `level`, each with the fragments it must contain.
struct LevelLines {
  spdlog::level::level_enum level;
  std::vector<std::vector<std::string>> lines;
};

std::ostream& operator<<(std::ostream& os, const LevelLines& l) {
  return os << spdlog::level::to_string_view(l.level).data();
}

// A trip and a recovery through one successful probe, at each level.
const std::vector<LevelLines> kRecovery = {
    {spdlog::level::warn, {{"db-1", "open"}}},
    {spdlog::level::info, {{"db-1", "half-open"}, {"db-1", "-> closed"}}},
    {spdlog::level::debug, {{"db-1", "probe"}}},
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(LoggingTest, LoggingFixture)

BOOST_AUTO_TEST_CASE(OpeningIsLoggedAtWarnWithThePeerId) {
  set->context("db-1").fail();

  std::vector<std::string> warns = log.at(spdlog::level::warn);

  BOOST_REQUIRE(warns.size() == 1u);
  BOOST_TEST(Contains(warns[0], "db-1"));
  BOOST_TEST(Contains(warns[0], "open"));
  BOOST_TEST(log.lines().size() == 1u);
}

// Open at warn, half-open and closed at info, the probe at debug.
BOOST_DATA_TEST_CASE_F(LoggingFixture, ARecoveryIsLoggedAtEachLevel,
                       bdata::make(kRecovery), expected) {
  set->context("db-1").fail();
  At(absl::Seconds(1));

  set->context("db-1").succeed();

  std::vector<std::string> lines = log.at(expected.level);
  BOOST_REQUIRE(lines.size() == expected.lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    for (const std::string& fragment : expected.lines[i]) {
      BOOST_TEST(Contains(lines[i], fragment), lines[i] << " lacks " << fragment);
    }
  }
}

BOOST_AUTO_TEST_CASE(ClosedCallsLogNothing) {
  for (int i = 0; i < 10; ++i) set->context("db-1").succeed();
  set->context("db-1").ignore();

  BOOST_TEST(log.lines().empty());
}

BOOST_AUTO_TEST_CASE(WithoutALoggerNothingIsLoggedAndTheGlobalLoggerIsUntouched) {
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  Captured global;
  spdlog::set_default_logger(global.logger);
  {
    CircuitBreakerSet silent(ManualOptions(&clock, 0));
    silent.context("a").fail();
    clock.advance(absl::Seconds(10));
    silent.context("a").succeed();
    silent.open("a");
  }
  spdlog::set_default_logger(previous);

  BOOST_TEST(global.lines().empty());
  BOOST_TEST(log.lines().empty());
}

BOOST_AUTO_TEST_CASE(FlappingPeerLogsOneTripPerLogInterval) {
  set->context("a").fail();  // trip at 0: logged

  for (int s = 1; s < 30; ++s) {
    At(absl::Seconds(s));
    FailedProbe("a");  // a trip every second
  }

  // Trips at 0, 10 and 20 s.
  std::vector<std::string> warns = log.at(spdlog::level::warn);
  BOOST_TEST(warns.size() == 3u);
}

BOOST_DATA_TEST_CASE_F(LoggingFixture, TripIsLoggedAgainExactlyOneLogIntervalLater,
                       bdata::make({-1, 0}), nanos_past_interval) {
  set->context("a").fail();
  for (int s = 1; s < 9; ++s) {
    At(absl::Seconds(s));
    FailedProbe("a");
  }

  At(absl::Seconds(10) + absl::Nanoseconds(nanos_past_interval));
  FailedProbe("a");

  std::vector<std::string> warns = log.at(spdlog::level::warn);
  BOOST_TEST(warns.size() == (nanos_past_interval < 0 ? 1u : 2u));
}

BOOST_AUTO_TEST_CASE(CoalescedTransitionsAreReportedOnTheNextLoggedTrip) {
  set->context("a").fail();
  for (int s = 1; s <= 10; ++s) {
    At(absl::Seconds(s));
    FailedProbe("a");
  }

  std::vector<std::string> warns = log.at(spdlog::level::warn);

  BOOST_REQUIRE(warns.size() == 2u);
  BOOST_TEST(!Contains(warns[0], "not logged"));
  // Not logged: the trips at 1..9 s and the half-opens at 2..10 s (the one
  // at 1 s belongs to the logged cycle).
  BOOST_TEST(Contains(warns[1], "18 earlier transitions"));
}

// As the README says: the half-open and closed lines of a coalesced cycle
// are not logged either (snapshot() has the current state).
BOOST_AUTO_TEST_CASE(HalfOpenAndClosedLinesOfACoalescedCycleAreNotLogged) {
  set->context("a").fail();
  At(absl::Seconds(1));
  FailedProbe("a");  // a coalesced trip
  const std::size_t lines_before = log.lines().size();
  At(absl::Seconds(2));

  set->context("a").succeed();  // half-open, then closed

  BOOST_TEST(set->state("a") == State::kClosed);
  BOOST_TEST(log.at(spdlog::level::info).size() == 1u);  // the first cycle's
  BOOST_TEST(log.lines().size() == lines_before + 1);    // + the probe's debug
}

// The end of a flapping spell is logged: a recovery whose trip was
// coalesced is logged once the peer's last logged trip is log_interval old.
BOOST_DATA_TEST_CASE_F(LoggingFixture,
                       RecoveryOfACoalescedCycleIsLoggedOnceTheIntervalPassed,
                       bdata::make({-1, 0}), nanos_past_interval) {
  set->context("a").fail();  // logged trip at 0
  At(absl::Seconds(1));
  FailedProbe("a");  // coalesced trip at 1 s, open until 2 s
  At(absl::Seconds(10) + absl::Nanoseconds(nanos_past_interval));

  set->context("a").succeed();  // half-open (not logged), then closed

  std::vector<std::string> infos = log.at(spdlog::level::info);
  BOOST_TEST(set->state("a") == State::kClosed);
  BOOST_TEST(infos.size() == (nanos_past_interval < 0 ? 1u : 2u));
  if (nanos_past_interval >= 0) {
    BOOST_REQUIRE(infos.size() == 2u);
    BOOST_TEST(Contains(infos[1], "half-open -> closed"));
    BOOST_TEST(Contains(infos[1], "2 earlier transitions"));
  }
}

BOOST_AUTO_TEST_CASE(ZeroLogIntervalLogsEveryTrip) {
  SetOptions o = ManualOptions(&clock, 0, absl::Seconds(60), absl::Seconds(1));
  o.logger = log.logger;
  o.log_interval = absl::ZeroDuration();
  CircuitBreakerSet s(o);
  s.context("a").fail();

  for (int i = 1; i <= 5; ++i) {
    At(absl::Seconds(i));
    Context probe = s.context("a");
    probe.fail();
  }

  BOOST_TEST(log.at(spdlog::level::warn).size() == 6u);
}

BOOST_AUTO_TEST_CASE(PeersAreCoalescedIndependently) {
  set->context("a").fail();
  At(absl::Seconds(1));
  FailedProbe("a");  // a's second trip: coalesced

  set->context("b").fail();  // b's first trip: logged

  std::vector<std::string> warns = log.at(spdlog::level::warn);
  BOOST_REQUIRE(warns.size() == 2u);
  BOOST_TEST(Contains(warns[0], "peer a"));
  BOOST_TEST(Contains(warns[1], "peer b"));
}

BOOST_AUTO_TEST_CASE(ManualTransitionsAreAlwaysLogged) {
  set->context("a").fail();
  At(absl::Seconds(1));
  FailedProbe("a");  // coalesced

  set->close("a");
  set->open("a");

  std::vector<std::string> warns = log.at(spdlog::level::warn);
  BOOST_TEST(warns.size() == 2u);
  std::vector<std::string> infos = log.at(spdlog::level::info);
  BOOST_REQUIRE(!infos.empty());
  BOOST_TEST(Contains(infos.back(), "-> closed"));
}

BOOST_AUTO_TEST_CASE(ThrowingListenerIsLoggedAtError) {
  struct Thrower : Listener {
    void success(std::string_view) override {
      throw std::runtime_error("listener broke");
    }
  };
  set->add_listener(std::make_shared<Thrower>());

  set->context("a").succeed();

  std::vector<std::string> errors = log.at(spdlog::level::err);
  BOOST_REQUIRE(errors.size() == 1u);
  BOOST_TEST(Contains(errors[0], "listener broke"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
