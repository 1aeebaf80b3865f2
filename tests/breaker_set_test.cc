// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The keyed set through its public API (DESIGN.md sections 1-3), every rule
// at its edges on a ManualClock.

#include "circuit/breaker_set.h"

#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

// The set of DESIGN.md's example: defaults (3 failures in 60 s, 10 s open).
using SetFixture = ManualSetFixture;

// A set that opens on the first counted failure.
struct TripOnFirstFailure : ManualSetFixture {
  TripOnFirstFailure() : ManualSetFixture(ManualOptions(nullptr, /*max_failures=*/0)) {}
};

// An exception type whose throws and copies are tracked, to tell "the same
// object" from "a copy".
struct CopyCounted {
  CopyCounted() { last = this; }
  CopyCounted(const CopyCounted&) {
    ++copies;
    last = this;
  }
  static inline const CopyCounted* last = nullptr;
  static inline int copies = 0;
};

// Makes a Status call to `peer` whose function must not run; returns the
// call's status.
absl::Status CallThatMustNotRun(CircuitBreakerSet& set, std::string_view peer) {
  bool ran = false;
  absl::Status s = set.call(peer, [&] {
    ran = true;
    return absl::OkStatus();
  });
  BOOST_TEST(!ran);
  return s;
}

struct Base : std::runtime_error {
  Base() : std::runtime_error("base") {}
};
struct Derived : Base {};
struct Unrelated : std::runtime_error {
  Unrelated() : std::runtime_error("unrelated") {}
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(BreakerSetTest, SetFixture)

// ---------------------------------------------------------------------------
// The window rule

BOOST_AUTO_TEST_CASE(FailuresAtZeroOneTwoSecondsStayClosedAndThreeSecondsOpens) {
  for (int s : {0, 1, 2}) {
    At(absl::Seconds(s));
    FailOnce(set, "a");
    BOOST_TEST(set.state("a") == State::kClosed);
  }

  At(absl::Seconds(3));
  FailOnce(set, "a");

  BOOST_TEST(set.state("a") == State::kOpen);
  BOOST_CHECK_THROW(set.context("a"), CircuitOpenError);
}

BOOST_AUTO_TEST_CASE(FailuresExactlyTimeUnitApartNeverShareAWindow) {
  for (int i = 0; i < 4; ++i) {
    At(absl::Seconds(60) * i);
    FailOnce(set, "a");
    FailOnce(set, "a");
    FailOnce(set, "a");
  }

  BOOST_TEST(set.state("a") == State::kClosed);
}

BOOST_DATA_TEST_CASE_F(SetFixture, FourthFailureOpensOnlyWithinTimeUnitOfTheFirst,
                       bdata::make({-1, 0, 1}), nanos_past_time_unit) {
  FailOnce(set, "a");
  FailOnce(set, "a");
  FailOnce(set, "a");

  At(absl::Seconds(60) + absl::Nanoseconds(nanos_past_time_unit));
  FailOnce(set, "a");

  BOOST_TEST(set.state("a") ==
             (nanos_past_time_unit < 0 ? State::kOpen : State::kClosed));
}

BOOST_AUTO_TEST_CASE(SuccessesDoNotEraseFailures) {
  FailOnce(set, "a");
  FailOnce(set, "a");
  FailOnce(set, "a");

  for (int i = 0; i < 10; ++i) SucceedOnce(set, "a");
  FailOnce(set, "a");

  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(MaxFailuresZeroOpensOnTheFirstCountedFailure) {
  CircuitBreakerSet strict(ManualOptions(&clock, /*max_failures=*/0));

  FailOnce(strict, "a");

  BOOST_TEST(strict.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(TheFailureThatTripsReachesItsCallerUnchanged) {
  FailOnce(set, "a");
  FailOnce(set, "a");
  FailOnce(set, "a");

  BOOST_CHECK_EXCEPTION(
      set.call("a", []() -> int { throw std::out_of_range("boom"); }),
      std::out_of_range,
      [](const std::out_of_range& e) { return std::string(e.what()) == "boom"; });
  BOOST_TEST(set.state("a") == State::kOpen);
}

// ---------------------------------------------------------------------------
// Open and half-open

BOOST_DATA_TEST_CASE_F(TripOnFirstFailure, OpenRejectsUntilExactlyOpenedAtPlusResetTimeout,
                       bdata::make({-1, 0, 1}), nanos_past_reset) {
  At(absl::Seconds(7));
  FailOnce(set, "a");

  At(absl::Seconds(17) + absl::Nanoseconds(nanos_past_reset));

  if (nanos_past_reset < 0) {
    BOOST_TEST(set.state("a") == State::kOpen);
    BOOST_TEST(RetryAfter(set, "a") == absl::Nanoseconds(1));
  } else {
    BOOST_TEST(set.state("a") == State::kHalfOpen);
    Context probe = set.context("a");
    BOOST_TEST(probe.probe());
  }
}

BOOST_FIXTURE_TEST_CASE(RetryAfterIsTheRestOfTheOpenPeriod, TripOnFirstFailure) {
  FailOnce(set, "a");

  At(absl::Seconds(4));

  BOOST_TEST(RetryAfter(set, "a") == absl::Seconds(6));
}

BOOST_FIXTURE_TEST_CASE(RetryAfterIsZeroInHalfOpenWhenEverySlotIsTaken,
                        TripOnFirstFailure) {
  FailOnce(set, "a");
  At(absl::Seconds(10));
  Context probe = set.context("a");

  absl::Duration retry = RetryAfter(set, "a");

  BOOST_TEST(retry == absl::ZeroDuration());
  BOOST_TEST(set.state("a") == State::kHalfOpen);
}

BOOST_AUTO_TEST_CASE(HalfOpenBoundsProbesAndClosesAfterHalfOpenSuccesses) {
  SetOptions o = ManualOptions(&clock, 0);
  o.defaults.half_open_max_calls = 2;
  o.defaults.half_open_successes = 3;
  CircuitBreakerSet s(o);
  FailOnce(s, "a");
  clock.advance(absl::Seconds(10));

  Context p1 = s.context("a");
  Context p2 = s.context("a");
  BOOST_CHECK_THROW(s.context("a"), CircuitOpenError);
  p1.succeed();
  p2.succeed();
  BOOST_TEST(s.state("a") == State::kHalfOpen);
  Context p3 = s.context("a");
  p3.succeed();

  BOOST_TEST(s.state("a") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(ClosingAfterProbesClearsTheFailureHistory) {
  FailOnce(set, "a");
  FailOnce(set, "a");
  FailOnce(set, "a");
  FailOnce(set, "a");
  At(absl::Seconds(10));
  SucceedOnce(set, "a");  // the probe closes it
  BOOST_REQUIRE(set.state("a") == State::kClosed);

  FailOnce(set, "a");
  FailOnce(set, "a");
  FailOnce(set, "a");

  BOOST_TEST(set.state("a") == State::kClosed);
}

BOOST_FIXTURE_TEST_CASE(ProbeFailureReopensForAFreshResetTimeout,
                        TripOnFirstFailure) {
  FailOnce(set, "a");
  At(absl::Seconds(10));
  Context probe = set.context("a");
  At(absl::Seconds(12));

  probe.fail();

  BOOST_TEST(set.state("a") == State::kOpen);
  BOOST_TEST(RetryAfter(set, "a") == absl::Seconds(10));
  At(absl::Seconds(22));
  BOOST_TEST(set.state("a") == State::kHalfOpen);
}

BOOST_FIXTURE_TEST_CASE(IgnoredProbeFreesItsSlot, TripOnFirstFailure) {
  FailOnce(set, "a");
  At(absl::Seconds(10));
  Context probe = set.context("a");
  BOOST_REQUIRE(!Admits(set, "a"));

  probe.ignore();

  BOOST_TEST(set.state("a") == State::kHalfOpen);
  Context next = set.context("a");
  BOOST_TEST(next.probe());
}

// ---------------------------------------------------------------------------
// Late outcomes

BOOST_FIXTURE_TEST_CASE(SlowCallAdmittedWhileClosedCannotReopenAReclosedBreaker,
                        TripOnFirstFailure) {
  Context slow = set.context("a");
  FailOnce(set, "a");
  At(absl::Seconds(10));
  SucceedOnce(set, "a");
  BOOST_REQUIRE(set.state("a") == State::kClosed);

  slow.fail();

  BOOST_TEST(set.state("a") == State::kClosed);
}

BOOST_FIXTURE_TEST_CASE(SlowCallFailingWhileOpenDoesNotExtendTheOpenPeriod,
                        TripOnFirstFailure) {
  Context slow = set.context("a");
  FailOnce(set, "a");  // open from 0 to 10 s
  At(absl::Seconds(9));

  slow.fail();

  At(absl::Seconds(10));
  BOOST_TEST(set.state("a") == State::kHalfOpen);
}

BOOST_FIXTURE_TEST_CASE(SlowCallFailingDuringHalfOpenDoesNotReopen,
                        TripOnFirstFailure) {
  Context slow = set.context("a");
  FailOnce(set, "a");
  At(absl::Seconds(10));
  Context probe = set.context("a");

  slow.fail();

  BOOST_TEST(set.state("a") == State::kHalfOpen);
  probe.succeed();
  BOOST_TEST(set.state("a") == State::kClosed);
}

// ---------------------------------------------------------------------------
// Peers

BOOST_AUTO_TEST_CASE(PeersAreCreatedLazilyOnFirstAdmission) {
  BOOST_TEST(set.size() == 0u);

  SucceedOnce(set, "a");
  SucceedOnce(set, "a");
  SucceedOnce(set, "b");

  BOOST_TEST(set.size() == 2u);
}

BOOST_AUTO_TEST_CASE(StateOfAnUnknownPeerIsClosedAndDoesNotCreateIt) {
  State s = set.state("nobody");

  BOOST_TEST(s == State::kClosed);
  BOOST_TEST(set.size() == 0u);
  BOOST_TEST(!set.snapshot("nobody").has_value());
}

BOOST_FIXTURE_TEST_CASE(PeersAreIndependent, TripOnFirstFailure) {
  FailOnce(set, "a");

  BOOST_TEST(set.state("a") == State::kOpen);
  BOOST_TEST(set.state("b") == State::kClosed);
  BOOST_TEST(Admits(set, "b"));
}

BOOST_AUTO_TEST_CASE(PeerIdsAreComparedByValueNotByPointer) {
  std::string id = "peer-1";
  FailOnce(set, id);
  id[5] = '2';
  FailOnce(set, id);

  BOOST_TEST(set.size() == 2u);
  BOOST_TEST(set.snapshot("peer-1")->failures == 1u);
}

BOOST_AUTO_TEST_CASE(PeerIdsMayHoldAnyBytes) {
  const std::string with_nul("a\0b", 3);
  const std::string other_nul("a\0c", 3);

  FailOnce(set, with_nul);
  SucceedOnce(set, other_nul);

  BOOST_TEST(set.size() == 2u);
  BOOST_TEST(set.snapshot(with_nul)->failures == 1u);
  BOOST_TEST(set.snapshot(other_nul)->failures == 0u);
  BOOST_TEST(!set.snapshot("a").has_value());
}

BOOST_AUTO_TEST_CASE(LongPeerIdsWorkLikeShortOnes) {
  std::string long_id(300, 'x');
  FailOnce(set, long_id);
  FailOnce(set, long_id);
  FailOnce(set, long_id);

  FailOnce(set, long_id);

  BOOST_TEST(set.state(long_id) == State::kOpen);
  BOOST_TEST(set.state(std::string(299, 'x')) == State::kClosed);
}

// ---------------------------------------------------------------------------
// Manual control

BOOST_AUTO_TEST_CASE(OpenCreatesThePeerAndRejectsForResetTimeout) {
  At(absl::Seconds(1));

  set.open("a");

  BOOST_TEST(set.size() == 1u);
  BOOST_TEST(set.state("a") == State::kOpen);
  BOOST_TEST(RetryAfter(set, "a") == absl::Seconds(10));
  At(absl::Seconds(11));
  BOOST_TEST(set.state("a") == State::kHalfOpen);
}

BOOST_AUTO_TEST_CASE(CloseClearsTheFailureHistory) {
  FailOnce(set, "a");
  FailOnce(set, "a");
  FailOnce(set, "a");

  set.close("a");
  FailOnce(set, "a");
  FailOnce(set, "a");
  FailOnce(set, "a");

  BOOST_TEST(set.state("a") == State::kClosed);
  FailOnce(set, "a");
  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(CloseEndsAnOpenPeriod) {
  set.open("a");

  set.close("a");

  BOOST_TEST(set.state("a") == State::kClosed);
  BOOST_TEST(Admits(set, "a"));
}

BOOST_AUTO_TEST_CASE(HalfOpenAdmitsProbesAtOnce) {
  set.half_open("a");

  BOOST_TEST(set.state("a") == State::kHalfOpen);
  Context probe = set.context("a");
  BOOST_TEST(probe.probe());
  BOOST_CHECK_THROW(set.context("a"), CircuitOpenError);
  probe.succeed();
  BOOST_TEST(set.state("a") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(ForceOpenRejectsWithInfiniteRetryAfterUntilClose) {
  set.force_open("a");
  At(absl::Hours(1000));

  BOOST_TEST(set.state("a") == State::kForcedOpen);
  BOOST_TEST(RetryAfter(set, "a") == absl::InfiniteDuration());
  set.close("a");
  BOOST_TEST(Admits(set, "a"));
}

BOOST_AUTO_TEST_CASE(DisableAdmitsEverythingAndNeverTrips) {
  set.disable("a");

  for (int i = 0; i < 10; ++i) FailOnce(set, "a");

  BOOST_TEST(set.state("a") == State::kDisabled);
}

// ---------------------------------------------------------------------------
// call(): classification of exceptions

BOOST_AUTO_TEST_CASE(CallRethrowsTheSameExceptionObject) {
  CopyCounted::copies = 0;
  const CopyCounted* caught = nullptr;

  try {
    set.call("a", [] { throw CopyCounted(); });
  } catch (const CopyCounted& e) {
    caught = &e;
  }

  BOOST_TEST(caught != nullptr);
  BOOST_TEST(caught == CopyCounted::last);
  BOOST_TEST(CopyCounted::copies == 0);
  BOOST_TEST(set.snapshot("a")->failures == 1u);
}

BOOST_AUTO_TEST_CASE(CallReturnsWhatTheFunctionReturned) {
  int r = set.call("a", [] { return 42; });

  BOOST_TEST(r == 42);
  BOOST_TEST(set.snapshot("a")->successes == 1u);
}

BOOST_FIXTURE_TEST_CASE(WithNoHandledTypesEveryExceptionCounts, TripOnFirstFailure) {
  BOOST_CHECK_THROW(set.call("a", [] { throw 7; }), int);

  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_FIXTURE_TEST_CASE(HandleErrorCountsDerivedTypes, TripOnFirstFailure) {
  set.handle_error<Base>();

  BOOST_CHECK_THROW(set.call("a", [] { throw Derived(); }), Derived);

  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_FIXTURE_TEST_CASE(HandleErrorCountsOtherTypesAsSuccesses, TripOnFirstFailure) {
  set.handle_error<Base>();

  BOOST_CHECK_THROW(set.call("a", [] { throw Unrelated(); }), Unrelated);

  BOOST_TEST(set.state("a") == State::kClosed);
  BOOST_TEST(set.snapshot("a")->successes == 1u);
}

BOOST_FIXTURE_TEST_CASE(EveryHandledTypeCounts, TripOnFirstFailure) {
  set.handle_error<Base>();
  set.handle_error<Unrelated>();

  BOOST_CHECK_THROW(set.call("a", [] { throw Unrelated(); }), Unrelated);

  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_FIXTURE_TEST_CASE(IgnoreErrorWinsOverHandleErrorAndRecordsNeither,
                        TripOnFirstFailure) {
  set.handle_error<Base>();
  set.ignore_error<Derived>();

  BOOST_CHECK_THROW(set.call("a", [] { throw Derived(); }), Derived);

  BOOST_TEST(set.state("a") == State::kClosed);
  BOOST_TEST(set.snapshot("a")->failures == 0u);
  BOOST_TEST(set.snapshot("a")->successes == 0u);
  BOOST_TEST(set.snapshot("a")->ignored == 1u);
  BOOST_CHECK_THROW(set.call("a", [] { throw Base(); }), Base);
  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_FIXTURE_TEST_CASE(ClassificationAppliesToPeersThatAlreadyExist,
                        TripOnFirstFailure) {
  SucceedOnce(set, "a");

  set.ignore_error<Base>();

  BOOST_CHECK_THROW(set.call("a", [] { throw Derived(); }), Derived);
  BOOST_TEST(set.state("a") == State::kClosed);
}

BOOST_FIXTURE_TEST_CASE(IgnoredExceptionOfAProbeFreesItsSlot, TripOnFirstFailure) {
  set.ignore_error<Base>();
  FailOnce(set, "a");
  At(absl::Seconds(10));

  BOOST_CHECK_THROW(set.call("a", [] { throw Base(); }), Base);

  BOOST_TEST(set.state("a") == State::kHalfOpen);
  Context next = set.context("a");
  BOOST_TEST(next.probe());
}

BOOST_FIXTURE_TEST_CASE(CallThrowsCircuitOpenErrorWithoutRunningTheFunction,
                        TripOnFirstFailure) {
  FailOnce(set, "a");
  bool ran = false;

  BOOST_CHECK_THROW(set.call("a", [&] { ran = true; }), CircuitOpenError);

  BOOST_TEST(!ran);
}

// ---------------------------------------------------------------------------
// call(): absl::Status results

const absl::StatusCode kFailureCodes[] = {
    absl::StatusCode::kUnavailable,       absl::StatusCode::kDeadlineExceeded,
    absl::StatusCode::kInternal,          absl::StatusCode::kUnknown,
    absl::StatusCode::kResourceExhausted, absl::StatusCode::kAborted,
    absl::StatusCode::kDataLoss};

const absl::StatusCode kSuccessCodes[] = {
    absl::StatusCode::kOk,
    absl::StatusCode::kCancelled,
    absl::StatusCode::kInvalidArgument,
    absl::StatusCode::kNotFound,
    absl::StatusCode::kAlreadyExists,
    absl::StatusCode::kPermissionDenied,
    absl::StatusCode::kFailedPrecondition,
    absl::StatusCode::kOutOfRange,
    absl::StatusCode::kUnimplemented,
    absl::StatusCode::kUnauthenticated};

BOOST_DATA_TEST_CASE_F(TripOnFirstFailure, DefaultFailureCodesCountAsFailures,
                       bdata::make(kFailureCodes), code) {
  absl::Status s = set.call("a", [&] { return absl::Status(code, "x"); });

  BOOST_TEST(s.code() == code);
  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_DATA_TEST_CASE_F(TripOnFirstFailure, OtherCodesCountAsSuccesses,
                       bdata::make(kSuccessCodes), code) {
  absl::Status s = set.call("a", [&] { return absl::Status(code, "x"); });

  BOOST_TEST(s.code() == code);
  BOOST_TEST(set.state("a") == State::kClosed);
  BOOST_TEST(set.snapshot("a")->successes == 1u);
}

BOOST_FIXTURE_TEST_CASE(StatusOrResultsAreClassifiedByTheirCode,
                        TripOnFirstFailure) {
  absl::StatusOr<int> ok = set.call("a", [] { return absl::StatusOr<int>(5); });
  absl::StatusOr<int> not_found = set.call(
      "a", [] { return absl::StatusOr<int>(absl::NotFoundError("x")); });
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(*ok == 5);
  BOOST_TEST(absl::IsNotFound(not_found.status()));
  BOOST_TEST(set.state("a") == State::kClosed);

  absl::StatusOr<int> down = set.call(
      "a", [] { return absl::StatusOr<int>(absl::DeadlineExceededError("x")); });

  BOOST_TEST(absl::IsDeadlineExceeded(down.status()));
  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(FailureCodesAreConfigurable) {
  SetOptions o = ManualOptions(&clock, 0);
  o.failure_codes = {absl::StatusCode::kNotFound};
  CircuitBreakerSet s(o);

  (void)s.call("a", [] { return absl::UnavailableError("x"); });
  BOOST_TEST(s.state("a") == State::kClosed);
  (void)s.call("a", [] { return absl::NotFoundError("x"); });

  BOOST_TEST(s.state("a") == State::kOpen);
}

BOOST_FIXTURE_TEST_CASE(StatusCallReturnsUnavailableNamingThePeerWhenRejected,
                        TripOnFirstFailure) {
  FailOnce(set, "db-7");

  absl::Status s = CallThatMustNotRun(set, "db-7");

  BOOST_TEST(absl::IsUnavailable(s));
  BOOST_TEST(std::string(s.message()).find("db-7") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(StatusOrCallReturnsUnavailableWhenRejected,
                        TripOnFirstFailure) {
  FailOnce(set, "a");

  absl::StatusOr<int> r = set.call("a", [] { return absl::StatusOr<int>(1); });

  BOOST_TEST(absl::IsUnavailable(r.status()));
}

// ---------------------------------------------------------------------------
// try_context and CircuitOpenError

BOOST_FIXTURE_TEST_CASE(TryContextReturnsUnavailableNamingThePeer,
                        TripOnFirstFailure) {
  FailOnce(set, "10.0.0.7:443");

  absl::StatusOr<Context> ctx = set.try_context("10.0.0.7:443");

  BOOST_TEST(absl::IsUnavailable(ctx.status()));
  BOOST_TEST(std::string(ctx.status().message()).find("10.0.0.7:443") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(TryContextAdmitsLikeContext) {
  absl::StatusOr<Context> ctx = set.try_context("a");

  BOOST_REQUIRE(ctx.ok());
  BOOST_TEST(ctx->peer() == "a");
  ctx->fail();
  BOOST_TEST(set.snapshot("a")->failures == 1u);
}

BOOST_FIXTURE_TEST_CASE(CircuitOpenErrorNamesThePeer, TripOnFirstFailure) {
  FailOnce(set, "db-1");

  BOOST_CHECK_EXCEPTION(set.context("db-1"), CircuitOpenError,
                        [](const CircuitOpenError& e) {
                          return e.peer() == "db-1" &&
                                 std::string(e.what()).find("db-1") !=
                                     std::string::npos;
                        });
  static_assert(std::is_base_of_v<std::runtime_error, CircuitOpenError>);
}

BOOST_FIXTURE_TEST_CASE(RejectionsAreCounted, TripOnFirstFailure) {
  FailOnce(set, "a");

  BOOST_CHECK_THROW(set.context("a"), CircuitOpenError);
  BOOST_TEST(!set.try_context("a").ok());

  BOOST_TEST(set.snapshot("a")->rejections == 2u);
}

// ---------------------------------------------------------------------------
// Bad peer ids

BOOST_AUTO_TEST_CASE(EmptyPeerIdIsRejectedWithAClearError) {
  BOOST_CHECK_EXCEPTION(set.context(""), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("empty") !=
                                 std::string::npos;
                        });
  BOOST_TEST(absl::IsInvalidArgument(set.try_context("").status()));
  BOOST_CHECK_THROW(set.open(""), std::invalid_argument);
  BOOST_CHECK_THROW(set.close(""), std::invalid_argument);
  BOOST_CHECK_THROW(set.half_open(""), std::invalid_argument);
  BOOST_TEST(set.state("") == State::kClosed);
  BOOST_TEST(set.size() == 0u);
}

BOOST_DATA_TEST_CASE(PeerIdsLongerThanMaxPeerIdBytesAreRejected,
                     bdata::make({7, 8, 9}), length) {
  SetOptions o = ManualOptions(&clock);
  o.max_peer_id_bytes = 8;
  CircuitBreakerSet s(o);
  std::string id(static_cast<std::size_t>(length), 'p');

  absl::StatusOr<Context> ctx = s.try_context(id);

  if (length <= 8) {
    BOOST_TEST(ctx.ok());
    ctx->fail();
    s.context(id).fail();  // found by context()'s own lookup
    BOOST_TEST(s.snapshot(id)->failures == 2u);
  } else {
    BOOST_TEST(absl::IsInvalidArgument(ctx.status()));
    BOOST_TEST(std::string(ctx.status().message()).find("max_peer_id_bytes") !=
               std::string::npos);
    BOOST_CHECK_THROW(s.context(id), std::invalid_argument);
    BOOST_TEST(s.size() == 0u);
  }
}

// context() looks up ids kept inline in their entry (up to 28 bytes) itself,
// and longer ones through the engine: either way, ids differing in their
// last byte are two peers, each found again.
BOOST_DATA_TEST_CASE(PeerIdsAroundTheInlineLimitAreFoundAgain,
                     bdata::make({27, 28, 29}), length) {
  CircuitBreakerSet s(ManualOptions(&clock));
  std::string id(static_cast<std::size_t>(length), 'p');
  std::string sibling = id;
  sibling.back() = 'q';

  s.context(id).fail();
  s.context(id).fail();
  s.context(sibling).fail();

  BOOST_TEST(s.snapshot(id)->failures == 2u);
  BOOST_TEST(s.snapshot(sibling)->failures == 1u);
  BOOST_TEST(s.size() == 2u);
}

BOOST_AUTO_TEST_CASE(StatusCallWithABadPeerReturnsInvalidArgument) {
  absl::Status s = CallThatMustNotRun(set, "");

  BOOST_TEST(absl::IsInvalidArgument(s));
  BOOST_CHECK_THROW(set.call("", [] { return 1; }), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// Vocabulary

BOOST_AUTO_TEST_CASE(StatesHaveTheirDesignNames) {
  std::ostringstream os;

  os << State::kHalfOpen;

  BOOST_TEST(os.str() == "half-open");
  BOOST_TEST(state_name(State::kClosed) == "closed");
  BOOST_TEST(state_name(State::kOpen) == "open");
  BOOST_TEST(state_name(State::kHalfOpen) == "half-open");
}

BOOST_AUTO_TEST_CASE(ManualClockMovesOnlyWhenTold) {
  ManualClock c;
  absl::Time start = c.now();

  c.advance(absl::Seconds(3));

  BOOST_TEST(start == absl::UnixEpoch());
  BOOST_TEST(c.now() - start == absl::Seconds(3));
  BOOST_TEST(c.now() == c.now());
}

BOOST_AUTO_TEST_CASE(TheSetIsNotCopyable) {
  BOOST_TEST(!std::is_copy_constructible_v<CircuitBreakerSet>);
  BOOST_TEST(!std::is_copy_assignable_v<CircuitBreakerSet>);
  BOOST_TEST(!std::is_copy_constructible_v<Context>);
  BOOST_TEST(std::is_nothrow_move_constructible_v<Context>);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
