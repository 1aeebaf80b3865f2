// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The RAII guard (circuit/context.h): settled exactly once, by hand or by
// its destructor, from any thread.

#include "circuit/context.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "test_util.h"

namespace circuit::testing {
namespace {

// A set that opens on the first counted failure, with a recording listener.
struct ContextFixture : RecordingFixture {
  // The outcome events heard so far, without the before_call lines.
  std::vector<std::string> Outcomes() const {
    std::vector<std::string> out;
    for (const std::string& e : listener->events()) {
      if (e.rfind("before_call", 0) != 0) out.push_back(e);
    }
    return out;
  }
};

using Events = std::vector<std::string>;

// Destroys a context made while an exception is already in flight, from the
// destructor of an object unwound by that exception.
struct MakesContextWhileUnwinding {
  ~MakesContextWhileUnwinding() {
    Context ctx = set->context("a");
  }
  CircuitBreakerSet* set;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ContextTest, ContextFixture)

BOOST_AUTO_TEST_CASE(SucceedRecordsOneSuccess) {
  Context ctx = set.context("a");

  ctx.succeed();

  BOOST_TEST(ctx.settled());
  BOOST_TEST(Outcomes() == Events({"success a"}));
}

BOOST_AUTO_TEST_CASE(LaterSettlesAreNoOps) {
  {
    Context ctx = set.context("a");
    ctx.succeed();

    ctx.fail();
    ctx.fail(std::make_exception_ptr(std::runtime_error("x")));
    ctx.ignore();
    ctx.settle(absl::UnavailableError("x"));
    ctx.succeed();
  }

  BOOST_TEST(Outcomes() == Events({"success a"}));
  BOOST_TEST(set.state("a") == State::kClosed);
}

BOOST_AUTO_TEST_CASE(FailRecordsACountedFailure) {
  Context ctx = set.context("a");

  ctx.fail();

  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(IgnoreRecordsNeitherSuccessNorFailure) {
  {
    Context ctx = set.context("a");
    ctx.ignore();
  }

  BOOST_TEST(Outcomes().empty());
  BOOST_TEST(set.snapshot("a")->ignored == 1u);
  BOOST_TEST(set.snapshot("a")->successes == 0u);
}

BOOST_AUTO_TEST_CASE(DestructorRecordsASuccessWhenNothingIsThrown) {
  { Context ctx = set.context("a"); }

  BOOST_TEST(Outcomes() == Events({"success a"}));
}

BOOST_AUTO_TEST_CASE(DestructorRecordsAFailureDuringStackUnwinding) {
  try {
    Context ctx = set.context("a");
    throw std::runtime_error("down");
  } catch (const std::runtime_error&) {
  }

  BOOST_TEST(Outcomes() == Events({"failure a", "state_change a closed->open"}));
}

BOOST_AUTO_TEST_CASE(EscapingExceptionCountsEvenWhenItsTypeIsIgnored) {
  set.ignore_error<std::runtime_error>();

  try {
    Context ctx = set.context("a");
    throw std::runtime_error("down");
  } catch (const std::runtime_error&) {
  }

  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ContextMadeDuringUnwindingSucceedsWhenItsOwnScopeEndsNormally) {
  try {
    MakesContextWhileUnwinding guard{&set};
    throw std::runtime_error("unrelated");
  } catch (const std::runtime_error&) {
  }

  BOOST_TEST(Outcomes() == Events({"success a"}));
}

BOOST_AUTO_TEST_CASE(ExceptionCaughtInsideTheScopeDoesNotCount) {
  {
    Context ctx = set.context("a");
    try {
      throw std::runtime_error("handled here");
    } catch (const std::runtime_error&) {
    }
  }

  BOOST_TEST(Outcomes() == Events({"success a"}));
}

BOOST_AUTO_TEST_CASE(FailWithExceptionPtrIsClassified) {
  set.ignore_error<std::logic_error>();
  set.handle_error<std::runtime_error>();

  set.context("ignored").fail(std::make_exception_ptr(std::invalid_argument("x")));
  set.context("unhandled").fail(std::make_exception_ptr(42));
  set.context("handled").fail(std::make_exception_ptr(std::range_error("x")));

  BOOST_TEST(Outcomes() == Events({"success unhandled", "failure handled",
                                   "state_change handled closed->open"}));
  BOOST_TEST(set.snapshot("ignored")->ignored == 1u);
}

BOOST_AUTO_TEST_CASE(FailWithANullExceptionPtrIsAFailure) {
  set.context("a").fail(std::exception_ptr());

  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(SettleClassifiesByStatusCode) {
  set.context("ok").settle(absl::OkStatus());
  set.context("mine").settle(absl::InvalidArgumentError("x"));
  set.context("theirs").settle(absl::DeadlineExceededError("x"));

  BOOST_TEST(set.state("ok") == State::kClosed);
  BOOST_TEST(set.state("mine") == State::kClosed);
  BOOST_TEST(set.state("theirs") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(MovedFromContextRecordsNothing) {
  {
    Context a = set.context("a");
    Context b = std::move(a);

    BOOST_TEST(a.settled());  // NOLINT(bugprone-use-after-move)
    BOOST_TEST(a.peer().empty());
    BOOST_TEST(!b.settled());
    BOOST_TEST(b.peer() == "a");
    a.fail();  // a no-op on the moved-from context
  }

  BOOST_TEST(Outcomes() == Events({"success a"}));
}

BOOST_AUTO_TEST_CASE(MoveAssignmentSettlesTheOverwrittenContextFirst) {
  Context target = set.context("first");
  Context source = set.context("second");

  target = std::move(source);

  BOOST_TEST(Outcomes() == Events({"success first"}));
  BOOST_TEST(target.peer() == "second");
  target.fail();
  BOOST_TEST(Outcomes() == Events({"success first", "failure second",
                                   "state_change second closed->open"}));
}

BOOST_AUTO_TEST_CASE(MoveAssignmentOntoASettledContextRecordsNothingExtra) {
  Context target = set.context("first");
  target.ignore();
  Context source = set.context("second");

  target = std::move(source);
  target.succeed();

  BOOST_TEST(Outcomes() == Events({"success second"}));
}

BOOST_AUTO_TEST_CASE(SelfMoveAssignmentKeepsTheContext) {
  Context ctx = set.context("a");
  Context& alias = ctx;

  ctx = std::move(alias);

  BOOST_TEST(!ctx.settled());
  BOOST_TEST(Outcomes().empty());
}

BOOST_AUTO_TEST_CASE(ContextSettledOnAnotherThreadIsRecorded) {
  Context ctx = set.context("a");

  std::thread worker([c = std::move(ctx)]() mutable { c.fail(); });
  worker.join();

  BOOST_TEST(set.state("a") == State::kOpen);
}

BOOST_AUTO_TEST_CASE(ContextDestroyedOnAnotherThreadRecordsASuccess) {
  auto ctx = std::make_unique<Context>(set.context("a"));

  std::thread worker([c = std::move(ctx)]() mutable { c.reset(); });
  worker.join();

  BOOST_TEST(Outcomes() == Events({"success a"}));
}

BOOST_AUTO_TEST_CASE(ProbeTellsWhetherTheCallHoldsAProbeSlot) {
  Context normal = set.context("a");
  set.context("b").fail();
  clock.advance(absl::Seconds(10));

  Context probe = set.context("b");

  BOOST_TEST(!normal.probe());
  BOOST_TEST(probe.probe());
}

BOOST_AUTO_TEST_CASE(ContextsMayOutliveEachOtherInAnyOrder) {
  std::vector<Context> contexts;
  for (int i = 0; i < 100; ++i) contexts.push_back(set.context("a"));

  contexts.erase(contexts.begin() + 10, contexts.begin() + 60);
  contexts.clear();

  BOOST_TEST(set.snapshot("a")->successes == 100u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
