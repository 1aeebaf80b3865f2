// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The controls and call forms of DESIGN.md section 2.1: force_open,
// disable, configure, SetOptions::options_for, call with a fallback, call
// with a result predicate, and SetOptions::failure_codes.

#include <atomic>
#include <latch>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

BreakerOptions OpensOnFirstFailure() {
  BreakerOptions o;
  o.max_failures = 0;
  return o;
}

// A set with the defaults: the fourth failure within 60 s opens a peer.
using Fixture = ManualSetFixture;

struct Response {
  int code;
};

}  // namespace

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(ForceOpenTest, Fixture)

BOOST_AUTO_TEST_CASE(RejectsWithAnInfiniteRetryAfter) {
  set.force_open("p");

  BOOST_TEST(set.state("p") == State::kForcedOpen);
  BOOST_CHECK_EXCEPTION(set.context("p"), CircuitOpenError,
                        [](const CircuitOpenError& e) {
                          return e.peer() == "p" &&
                                 e.retry_after() == absl::InfiniteDuration();
                        });
  absl::StatusOr<Context> ctx = set.try_context("p");
  BOOST_TEST(absl::IsUnavailable(ctx.status()));
  BOOST_TEST(absl::StrContains(ctx.status().message(), "p"));
}

BOOST_AUTO_TEST_CASE(OutlastsAnyResetTimeout) {
  set.force_open("p");

  clock.advance(absl::Hours(24 * 365));

  BOOST_TEST(set.state("p") == State::kForcedOpen);
  BOOST_TEST(!set.try_context("p").ok());
}

BOOST_AUTO_TEST_CASE(CountsItsRejections) {
  set.force_open("p");

  for (int i = 0; i < 3; ++i) (void)set.try_context("p");

  BOOST_TEST(set.snapshot("p")->rejections == 3u);
  BOOST_TEST(set.snapshot("p")->calls == 0u);
}

BOOST_AUTO_TEST_CASE(CreatesTheUnknownPeer) {
  set.force_open("new");

  BOOST_TEST(set.size() == 1u);
}

BOOST_AUTO_TEST_CASE(AnOutcomeAdmittedBeforeItIsLate) {
  Context ctx = set.context("p");
  set.force_open("p");

  ctx.succeed();  // admitted while closed: cannot end the forced state

  BOOST_TEST(set.state("p") == State::kForcedOpen);
}

BOOST_AUTO_TEST_CASE(ABadPeerIdIsRefused) {
  BOOST_CHECK_THROW(set.force_open(""), std::invalid_argument);
  BOOST_CHECK_THROW(set.disable(""), std::invalid_argument);
  BOOST_CHECK_THROW(set.configure("", BreakerOptions{}), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(DisableTest, Fixture)

BOOST_AUTO_TEST_CASE(AdmitsEverythingAndNeverTrips) {
  set.disable("p");

  Fail(set, "p", 100);

  BOOST_TEST(set.state("p") == State::kDisabled);
  BOOST_TEST(set.try_context("p").ok());
  BOOST_TEST(set.snapshot("p")->failures == 100u);
  BOOST_TEST(set.snapshot("p")->trips == 0u);
}

BOOST_AUTO_TEST_CASE(CloseEndsItWithAFreshHistory) {
  set.disable("p");
  Fail(set, "p", 100);

  set.close("p");

  BOOST_TEST(set.state("p") == State::kClosed);
  BOOST_TEST(FailuresToOpen(set, "p") == 4);  // the default max_failures = 3
}

BOOST_AUTO_TEST_CASE(DisablesEveryRule) {
  BreakerOptions o;
  o.consecutive_failures = 1;
  o.failure_rate_threshold = 0.1;
  o.minimum_calls = 1;
  o.max_failures = 0;
  set.configure("p", o);
  set.disable("p");

  Fail(set, "p", 10);

  BOOST_TEST(set.state("p") == State::kDisabled);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Two manual controls in a row: the second wins, at once and for good.
namespace {

struct ControlPair {
  std::string name;
  void (CircuitBreakerSet::*first)(std::string_view);
  void (CircuitBreakerSet::*second)(std::string_view);
  State then;
  bool admits;
};

std::ostream& operator<<(std::ostream& os, const ControlPair& c) {
  return os << c.name;
}

const ControlPair kControlPairs[] = {
    {"force_open, close", &CircuitBreakerSet::force_open, &CircuitBreakerSet::close,
     State::kClosed, true},
    {"force_open, disable", &CircuitBreakerSet::force_open,
     &CircuitBreakerSet::disable, State::kDisabled, true},
    {"open, disable", &CircuitBreakerSet::open, &CircuitBreakerSet::disable,
     State::kDisabled, true},
    {"open, force_open", &CircuitBreakerSet::open, &CircuitBreakerSet::force_open,
     State::kForcedOpen, false},
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ControlPairTest, Fixture)

// Read at once, and again an hour later (past any reset timeout).
BOOST_DATA_TEST_CASE_F(Fixture, TheSecondOfTwoControlsWins,
                       bdata::make(kControlPairs), pair) {
  (set.*pair.first)("p");

  (set.*pair.second)("p");

  BOOST_TEST(set.state("p") == pair.then);
  BOOST_TEST(Admits(set, "p") == pair.admits);
  clock.advance(absl::Hours(1));
  BOOST_TEST(set.state("p") == pair.then);
  BOOST_TEST(Admits(set, "p") == pair.admits);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(ConfigureTest, Fixture)

BOOST_AUTO_TEST_CASE(AppliesToAPeerCreatedLater) {
  set.configure("fragile", OpensOnFirstFailure());

  BOOST_TEST(FailuresToOpen(set, "fragile") == 1);
  BOOST_TEST(FailuresToOpen(set, "other") == 4);
}

BOOST_AUTO_TEST_CASE(AppliesToAnExistingPeer) {
  set.context("p").succeed();

  set.configure("p", OpensOnFirstFailure());

  BOOST_TEST(FailuresToOpen(set, "p") == 1);
}

BOOST_AUTO_TEST_CASE(KeepsTheStateOfAnExistingPeer) {
  set.open("p");

  set.configure("p", OpensOnFirstFailure());

  BOOST_TEST(set.state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ASmallerWindowKeepsTheNewestFailures) {
  Fail(set, "p", 3);  // the default tolerates 3 within 60 s

  BreakerOptions o;
  o.max_failures = 1;
  set.configure("p", o);
  Fail(set, "p");  // one kept failure plus this one: more than 1

  BOOST_TEST(set.state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ALargerWindowKeepsTheHistory) {
  Fail(set, "p", 3);

  BreakerOptions o;
  o.max_failures = 4;
  set.configure("p", o);

  Fail(set, "p");
  BOOST_TEST(set.state("p") == State::kClosed);
  Fail(set, "p");  // five failures: more than 4
  BOOST_TEST(set.state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(TurnsOnARateRuleForAnExistingPeer) {
  set.context("p").succeed();
  BreakerOptions o;
  o.max_failures = kUnlimited;
  o.failure_rate_threshold = 0.6;
  o.minimum_calls = 2;

  set.configure("p", o);
  Fail(set, "p");                                 // 1 / 1: below the minimum
  set.context("p").succeed();                     // 1 / 2 < 0.6
  BOOST_TEST(set.state("p") == State::kClosed);
  Fail(set, "p");                                 // 2 / 3

  BOOST_TEST(set.state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(AppliesWhenTheEvictedPeerIsCreatedAgain) {
  SetOptions options = ManualOptions(&clock);
  options.max_peers = 1;
  CircuitBreakerSet capped(options);
  BreakerOptions o;
  o.max_failures = kUnlimited;
  o.consecutive_failures = 2;
  capped.configure("a", o);
  Fail(capped, "a");
  capped.context("b").succeed();  // over the cap: "a" (closed, idle) goes
  BOOST_REQUIRE(!capped.snapshot("a").has_value());

  Fail(capped, "a");  // a fresh breaker, with the configured policy
  BOOST_TEST(capped.state("a") == State::kClosed);
  Fail(capped, "a");

  BOOST_TEST(capped.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ReconfiguringReplacesThePolicy) {
  set.configure("p", OpensOnFirstFailure());

  BreakerOptions o;
  o.max_failures = 5;
  set.configure("p", o);

  BOOST_TEST(FailuresToOpen(set, "p") == 6);
}

BOOST_AUTO_TEST_CASE(BadOptionsChangeNothing) {
  set.configure("p", OpensOnFirstFailure());
  BreakerOptions bad;
  bad.jitter = 2;

  BOOST_CHECK_EXCEPTION(set.configure("p", bad), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return absl::StrContains(e.what(), "jitter");
                        });

  BOOST_TEST(FailuresToOpen(set, "p") == 1);
}

BOOST_AUTO_TEST_CASE(OnlyTheNamedPeerChanges) {
  set.context("a").succeed();
  set.context("b").succeed();

  set.configure("a", OpensOnFirstFailure());

  BOOST_TEST(FailuresToOpen(set, "b") == 4);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(OptionsForTest)

BOOST_AUTO_TEST_CASE(GivesEachNewPeerItsPolicy) {
  ManualClock clock;
  SetOptions options = ManualOptions(&clock);
  options.options_for = [](std::string_view peer) {
    BreakerOptions o;
    if (peer.starts_with("fragile-")) o.max_failures = 0;
    return o;
  };
  CircuitBreakerSet set(options);

  BOOST_TEST(FailuresToOpen(set, "fragile-db") == 1);
  BOOST_TEST(FailuresToOpen(set, "sturdy-db") == 4);
}

BOOST_AUTO_TEST_CASE(IsCalledOncePerNewPeer) {
  ManualClock clock;
  auto calls = std::make_shared<std::atomic<int>>(0);
  SetOptions options = ManualOptions(&clock);
  options.options_for = [calls](std::string_view) {
    ++*calls;
    return BreakerOptions{};
  };
  CircuitBreakerSet set(options);

  for (int i = 0; i < 5; ++i) set.context("a").succeed();
  set.context("b").succeed();

  BOOST_TEST(calls->load() == 2);
}

BOOST_AUTO_TEST_CASE(ConfigureWinsOverIt) {
  ManualClock clock;
  SetOptions options = ManualOptions(&clock);
  options.options_for = [](std::string_view) { return OpensOnFirstFailure(); };
  CircuitBreakerSet set(options);
  BreakerOptions o;
  o.max_failures = 2;

  set.configure("p", o);

  BOOST_TEST(FailuresToOpen(set, "p") == 3);
}

BOOST_AUTO_TEST_CASE(BadOptionsFallBackToTheDefaultsAndAreLogged) {
  ManualClock clock;
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  SetOptions options = ManualOptions(&clock);
  options.logger = std::make_shared<spdlog::logger>("test", sink);
  options.defaults.max_failures = 1;
  options.options_for = [](std::string_view) {
    BreakerOptions o;
    o.window_buckets = 0;
    return o;
  };
  CircuitBreakerSet set(options);

  BOOST_TEST(FailuresToOpen(set, "p") == 2);

  bool logged = false;
  for (const std::string& line : sink->last_formatted()) {
    logged |= absl::StrContains(line, "window_buckets");
  }
  BOOST_TEST(logged);
}

BOOST_AUTO_TEST_CASE(AThrowingFunctionFallsBackToTheDefaults) {
  ManualClock clock;
  SetOptions options = ManualOptions(&clock);
  options.defaults.max_failures = 1;
  options.options_for = [](std::string_view) -> BreakerOptions {
    throw std::runtime_error("no such service");
  };
  CircuitBreakerSet set(options);

  BOOST_CHECK_NO_THROW(set.context("p").succeed());
  BOOST_TEST(FailuresToOpen(set, "p") == 2);
}

BOOST_AUTO_TEST_CASE(AThrowingNonStdExceptionFallsBackToo) {
  ManualClock clock;
  SetOptions options = ManualOptions(&clock);
  options.defaults.max_failures = 1;
  options.options_for = [](std::string_view) -> BreakerOptions { throw 42; };
  CircuitBreakerSet set(options);

  BOOST_TEST(FailuresToOpen(set, "p") == 2);
}

BOOST_AUTO_TEST_CASE(HandlesGetItsPolicyToo) {
  ManualClock clock;
  SetOptions options = ManualOptions(&clock);
  options.options_for = [](std::string_view) { return OpensOnFirstFailure(); };
  CircuitBreakerSet set(options);

  PeerHandle h = set.handle("p");
  h.context().fail();

  BOOST_TEST(h.state() == State::kOpen);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// configure() called while its peer is being created (options_for runs
// outside every lock) is not lost, however the peer is created.
namespace {

// A store that only hands the set's sink to the test.
class SinkCatcher : public StateStore {
 public:
  void attach(StoreSink* sink, const BreakerOptions&) override {
    sink_ = sink;
  }
  void detach(StoreSink*) override { sink_ = nullptr; }
  void record_failure(std::string_view, absl::Time) override {}
  void record_transition(std::string_view, State, State,
                         absl::Duration) override {}
  bool healthy() const override { return true; }

  StoreSink* sink() const { return sink_; }

 private:
  StoreSink* sink_ = nullptr;
};

// A set whose options_for configures the peer it is asked about to open on
// the first failure, and then returns the defaults.
struct ConfiguringOptionsFor {
  ManualClock clock;
  std::shared_ptr<SinkCatcher> store = std::make_shared<SinkCatcher>();
  CircuitBreakerSet set{[this] {
    SetOptions options = ManualOptions(&clock);
    options.store = store;
    options.options_for = [this](std::string_view peer) {
      set.configure(peer, OpensOnFirstFailure());
      return BreakerOptions{};
    };
    return options;
  }()};
};

// A set whose options_for, asked about a new peer, returns `chosen` only
// once the test lets it (CreateWhile): configure() calls made meanwhile on
// another thread race with the peer's creation.
struct HeldCreation {
  // Creates "p" on another thread and runs `meanwhile` while its creation
  // waits in options_for.
  template <class F>
  void CreateWhile(F meanwhile) {
    std::thread creator([this] { set.context("p").succeed(); });
    creating.wait();
    meanwhile();
    configured.count_down();
    creator.join();
  }

  ManualClock clock;
  BreakerOptions chosen;
  std::latch creating{1};
  std::latch configured{1};
  CircuitBreakerSet set{[this] {
    SetOptions options = ManualOptions(&clock);
    options.options_for = [this](std::string_view) {
      creating.count_down();
      configured.wait();
      return chosen;
    };
    return options;
  }()};
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ConfigureDuringCreationTest, ConfiguringOptionsFor)

BOOST_AUTO_TEST_CASE(WinsForAPeerAContextCreates) {
  set.context("p").fail();

  BOOST_TEST(set.state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(WinsForAPeerAHandleCreates) {
  PeerHandle h = set.handle("p");

  h.context().fail();

  BOOST_TEST(h.state() == State::kOpen);
}

BOOST_AUTO_TEST_CASE(WinsForAPeerAManualControlCreates) {
  set.close("p");

  set.context("p").fail();

  BOOST_TEST(set.state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(WinsForAPeerTheStoreCreates) {
  BOOST_REQUIRE(store->sink() != nullptr);
  store->sink()->apply_remote("p", State::kOpen, absl::Seconds(5), 1);
  BOOST_REQUIRE(set.state("p") == State::kOpen);
  set.close("p");

  set.context("p").fail();

  BOOST_TEST(set.state("p") == State::kOpen);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(ConfigureRacingCreationTest, HeldCreation)

BOOST_AUTO_TEST_CASE(AConfigureThatReturnsDuringCreationWins) {
  CreateWhile([this] { set.configure("p", OpensOnFirstFailure()); });

  set.context("p").fail();

  BOOST_TEST(set.state("p") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(TheLastOfTwoConfiguresDuringCreationWins) {
  chosen = OpensOnFirstFailure();
  BreakerOptions two;
  two.max_failures = 2;

  CreateWhile([&] {
    set.configure("p", OpensOnFirstFailure());
    set.configure("p", two);
  });

  BOOST_TEST(FailuresToOpen(set, "p") == 3);
}

BOOST_AUTO_TEST_SUITE_END()

// The first configure() of a set racing the creation of its peer on another
// thread: until a set has been configured, a new peer's policy is chosen
// without the set's lock, so this is the race that path must not lose.
BOOST_AUTO_TEST_SUITE(FirstConfigureRacingCreationTest)

BOOST_AUTO_TEST_CASE(IsNeverLostWhicheverLandsFirst) {
  constexpr int kTrials = 3000;
  int lost = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    ManualClock clock;
    CircuitBreakerSet set(ManualOptions(&clock));
    std::atomic<int> ready{0};
    auto together = [&ready] {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
    };
    std::thread creator([&] {
      together();
      set.context("p").succeed();
    });
    together();
    set.configure("p", OpensOnFirstFailure());
    creator.join();

    set.context("p").fail();
    if (set.state("p") != State::kOpen) ++lost;
  }
  BOOST_TEST(lost == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(CallWithFallbackTest, Fixture)

BOOST_AUTO_TEST_CASE(ReturnsTheResultWhenAdmitted) {
  bool fell_back = false;

  int r = set.call("p", [] { return 1; }, [&] {
    fell_back = true;
    return 2;
  });

  BOOST_TEST(r == 1);
  BOOST_TEST(!fell_back);
  BOOST_TEST(set.snapshot("p")->successes == 1u);
}

BOOST_AUTO_TEST_CASE(ReturnsTheFallbackWhenRejected) {
  set.open("p");
  bool ran = false;

  int r = set.call("p", [&] {
    ran = true;
    return 1;
  }, [] { return 2; });

  BOOST_TEST(r == 2);
  BOOST_TEST(!ran);
  BOOST_TEST(set.snapshot("p")->rejections == 1u);
}

BOOST_AUTO_TEST_CASE(TheFallbackMaySeeTheRejection) {
  set.open("p");
  clock.advance(absl::Seconds(4));

  std::string r = set.call("p", [] { return std::string("live"); },
                           [](const CircuitOpenError& e) {
                             return std::string(e.peer()) + " " +
                                    absl::FormatDuration(e.retry_after());
                           });

  BOOST_TEST(r == "p 6s");
}

BOOST_AUTO_TEST_CASE(AFailureIsRethrownNotReplacedByTheFallback) {
  BOOST_CHECK_THROW(set.call("p", []() -> int { throw std::runtime_error("x"); },
                             [] { return 2; }),
                    std::runtime_error);
  BOOST_TEST(set.snapshot("p")->failures == 1u);
}

BOOST_AUTO_TEST_CASE(WorksForVoidFunctions) {
  set.force_open("p");
  int fallbacks = 0;

  set.call("p", [] {}, [&] { ++fallbacks; });

  BOOST_TEST(fallbacks == 1);
}

BOOST_AUTO_TEST_CASE(AStatusFunctionGetsTheFallbackInsteadOfUnavailable) {
  set.open("p");

  absl::StatusOr<int> r = set.call(
      "p", []() -> absl::StatusOr<int> { return 1; },
      []() -> absl::StatusOr<int> { return 7; });

  BOOST_REQUIRE(r.ok());
  BOOST_TEST(*r == 7);
}

BOOST_AUTO_TEST_CASE(ABadPeerIdIsNotRejectionSoNoFallback) {
  BOOST_CHECK_THROW(set.call("", [] { return 1; }, [] { return 2; }),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_FIXTURE_TEST_SUITE(FailsWhenTest, Fixture)

BOOST_AUTO_TEST_CASE(ARejectedResultCountsAsAFailureAndIsReturned) {
  auto server_error = fails_when(
      [](const Response& r) { return r.code >= 500; });

  Response r = set.call("p", [] { return Response{503}; }, server_error);

  BOOST_TEST(r.code == 503);
  BOOST_TEST(set.snapshot("p")->failures == 1u);
  BOOST_TEST(set.snapshot("p")->successes == 0u);
}

BOOST_AUTO_TEST_CASE(AnAcceptedResultIsASuccess) {
  auto server_error = fails_when(
      [](const Response& r) { return r.code >= 500; });

  set.call("p", [] { return Response{404}; }, server_error);

  BOOST_TEST(set.snapshot("p")->failures == 0u);
  BOOST_TEST(set.snapshot("p")->successes == 1u);
}

// 499 passes, 500 fails: the predicate is the edge, not the library.
BOOST_DATA_TEST_CASE_F(Fixture, OpensOnRejectedResults,
                       bdata::make({499, 500}) ^ bdata::make({false, true}),
                       code, opens) {
  auto server_error = fails_when(
      [](const Response& r) { return r.code >= 500; });

  for (int i = 0; i < 4; ++i) {
    set.call("p", [code] { return Response{code}; }, server_error);
  }

  BOOST_TEST((set.state("p") == State::kOpen) == opens);
}

BOOST_AUTO_TEST_CASE(ReplacesTheStatusCodeClassification) {
  auto not_found_fails = fails_when(
      [](const absl::Status& s) { return absl::IsNotFound(s); });

  absl::Status a =
      set.call("p", [] { return absl::NotFoundError("x"); }, not_found_fails);
  absl::Status b = set.call(
      "p", [] { return absl::UnavailableError("x"); }, not_found_fails);

  BOOST_TEST(absl::IsNotFound(a));  // returned unchanged
  BOOST_TEST(absl::IsUnavailable(b));

  BOOST_TEST(set.snapshot("p")->failures == 1u);
  BOOST_TEST(set.snapshot("p")->successes == 1u);
}

BOOST_AUTO_TEST_CASE(CombinesWithAFallback) {
  auto server_error = fails_when(
      [](const Response& r) { return r.code >= 500; });
  set.open("p");

  Response r = set.call("p", [] { return Response{200}; }, server_error,
                        [] { return Response{0}; });

  BOOST_TEST(r.code == 0);
}

BOOST_AUTO_TEST_CASE(ExceptionsAreStillClassifiedAndRethrown) {
  auto never = fails_when([](const Response&) { return false; });

  BOOST_CHECK_THROW(
      set.call("p", []() -> Response { throw std::logic_error("x"); }, never),
      std::logic_error);
  BOOST_TEST(set.snapshot("p")->failures == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(FailureCodesTest)

namespace {
std::unique_ptr<CircuitBreakerSet> SetWithCodes(
    std::vector<absl::StatusCode> codes) {
  SetOptions options;
  options.failure_codes = std::move(codes);
  return std::make_unique<CircuitBreakerSet>(options);
}

std::uint64_t FailuresAfter(CircuitBreakerSet& set, absl::StatusCode code) {
  absl::Status s = set.call("p", [code] { return absl::Status(code, "x"); });
  BOOST_TEST(s.code() == code);
  return set.snapshot("p")->failures;
}
}  // namespace

BOOST_DATA_TEST_CASE(
    TheDefaultCodesCountAsFailures,
    bdata::make({absl::StatusCode::kUnavailable,
                 absl::StatusCode::kDeadlineExceeded,
                 absl::StatusCode::kInternal, absl::StatusCode::kUnknown,
                 absl::StatusCode::kResourceExhausted,
                 absl::StatusCode::kAborted, absl::StatusCode::kDataLoss}),
    code) {
  CircuitBreakerSet set;

  BOOST_TEST(FailuresAfter(set, code) == 1u);
}

BOOST_DATA_TEST_CASE(
    OtherCodesCountAsSuccesses,
    bdata::make({absl::StatusCode::kOk, absl::StatusCode::kCancelled,
                 absl::StatusCode::kInvalidArgument,
                 absl::StatusCode::kNotFound, absl::StatusCode::kAlreadyExists,
                 absl::StatusCode::kPermissionDenied,
                 absl::StatusCode::kFailedPrecondition,
                 absl::StatusCode::kOutOfRange,
                 absl::StatusCode::kUnimplemented,
                 absl::StatusCode::kUnauthenticated}),
    code) {
  CircuitBreakerSet set;

  BOOST_TEST(FailuresAfter(set, code) == 0u);
  BOOST_TEST(set.snapshot("p")->successes == 1u);
}

BOOST_AUTO_TEST_CASE(ACustomListReplacesTheDefaults) {
  auto set = SetWithCodes({absl::StatusCode::kNotFound});

  BOOST_TEST(FailuresAfter(*set, absl::StatusCode::kNotFound) == 1u);
  BOOST_TEST(FailuresAfter(*set, absl::StatusCode::kUnavailable) == 1u);
}

BOOST_AUTO_TEST_CASE(AnEmptyListCountsNothing) {
  auto set = SetWithCodes({});

  for (int i = 0; i < 10; ++i) {
    FailuresAfter(*set, absl::StatusCode::kUnavailable);
  }

  BOOST_TEST(set->snapshot("p")->failures == 0u);
  BOOST_TEST(set->state("p") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(StatusOrResultsAreClassifiedToo) {
  auto set = SetWithCodes({absl::StatusCode::kPermissionDenied});

  absl::StatusOr<int> r = set->call("p", []() -> absl::StatusOr<int> {
    return absl::PermissionDeniedError("x");
  });

  BOOST_TEST(absl::IsPermissionDenied(r.status()));
  BOOST_TEST(set->snapshot("p")->failures == 1u);
}

BOOST_AUTO_TEST_CASE(ContextSettleUsesTheSameCodes) {
  auto set = SetWithCodes({absl::StatusCode::kNotFound});

  set->context("p").settle(absl::NotFoundError("x"));
  set->context("p").settle(absl::UnavailableError("x"));

  BOOST_TEST(set->snapshot("p")->failures == 1u);
  BOOST_TEST(set->snapshot("p")->successes == 1u);
}

BOOST_AUTO_TEST_CASE(AListWithOkIsRefused) {
  SetOptions options;
  options.failure_codes = {absl::StatusCode::kOk};

  BOOST_CHECK_EXCEPTION(CircuitBreakerSet{options}, std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return absl::StrContains(e.what(), "failure_codes");
                        });
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
