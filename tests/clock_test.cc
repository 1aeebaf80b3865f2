// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The clock at its edges (circuit/clock.h): what a reading of
// `absl::InfiniteFuture()` does to a set, as the header documents it. The
// library saturates time arithmetic, so such a reading is survived; but it
// is a reading like any other, and a deadline computed from it lies at the
// end of time.

#include "circuit/clock.h"

#include <atomic>
#include <string>

#include <boost/test/unit_test.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "test_util.h"

namespace circuit::testing {
namespace {

// A ManualClock that can be told to read `absl::InfiniteFuture()`.
class EndOfTimeClock : public Clock {
 public:
  absl::Time now() const override {
    return at_end_.load() ? absl::InfiniteFuture() : manual_.now();
  }
  void GoToTheEnd() { at_end_.store(true); }
  void ComeBack() { at_end_.store(false); }
  void advance(absl::Duration d) { manual_.advance(d); }

 private:
  ManualClock manual_;
  std::atomic<bool> at_end_{false};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(ClockTest)

BOOST_AUTO_TEST_CASE(APeerTrippedAtTheEndOfTimeStaysOpenUntilClosed) {
  EndOfTimeClock clock;
  CircuitBreakerSet set(ManualOptions(&clock, /*max_failures=*/0));
  clock.GoToTheEnd();
  FailOnce(set, "p");  // opens; the open period ends at the end of time
  BOOST_TEST((set.snapshot("p")->trips == 1u));

  clock.ComeBack();
  clock.advance(absl::Hours(24 * 365));  // far past any reset_timeout
  BOOST_TEST((set.state("p") == State::kOpen));
  BOOST_TEST(!Admits(set, "p"));
  BOOST_TEST(Admits(set, "q"));  // other peers are unaffected

  set.close("p");  // what recovers it
  BOOST_TEST((set.state("p") == State::kClosed));
  BOOST_TEST(Admits(set, "p"));
  FailOnce(set, "p");  // and it trips, and recovers, normally again
  clock.advance(absl::Seconds(10));
  BOOST_TEST((set.state("p") == State::kHalfOpen));
}

BOOST_AUTO_TEST_CASE(AReadingAtTheEndOfTimeEndsIdleEvictionButNotTheCap) {
  EndOfTimeClock clock;
  SetOptions options = ManualOptions(&clock);
  options.idle_timeout = absl::Seconds(10);
  options.max_peers = 4;
  CircuitBreakerSet set(options);
  auto idle_for = [&](absl::Duration d) {
    for (absl::Duration t; t < d; t += absl::Seconds(1)) {
      clock.advance(absl::Seconds(1));
      (void)set.size();  // sweeps when one is due
    }
  };
  SucceedOnce(set, "a");
  SucceedOnce(set, "b");
  idle_for(absl::Seconds(30));
  BOOST_TEST(set.size() == 0u);  // idle peers are dropped

  SucceedOnce(set, "a");
  SucceedOnce(set, "b");
  clock.GoToTheEnd();
  (void)set.size();  // a sweep at the end of time
  clock.ComeBack();
  idle_for(absl::Hours(1));
  BOOST_TEST(set.size() == 2u);  // idle peers are no longer dropped
  BOOST_TEST(set.sweep() == 0u);

  for (int i = 0; i < 10; ++i) SucceedOnce(set, "n" + std::to_string(i));
  BOOST_TEST(set.size() == 4u);  // the cap still holds
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
