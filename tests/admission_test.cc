// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// would_admit() is the admission engine's dry run: in every state it says
// what try_context() then does, and it changes nothing (no rejection
// counted, no probe or bulkhead slot taken, no transition, no peer made).

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

// Every peer: opens on its first failure, 10 s open, two probe slots, a
// bulkhead of three.
SetOptions Options() {
  SetOptions o;
  o.defaults.max_failures = 0;
  o.defaults.reset_timeout = absl::Seconds(10);
  o.defaults.half_open_max_calls = 2;
  o.defaults.max_concurrent_calls = 3;
  return o;
}

struct Case {
  std::string name;
  // Puts peer "p" in the state under test; contexts it must keep alive go
  // to `held`.
  std::function<void(CircuitBreakerSet&, ManualClock&, std::vector<Context>&)>
      setup;
  bool admits;
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

using Held = std::vector<Context>;

const Case kCases[] = {
    {"closed", [](CircuitBreakerSet& s, ManualClock&, Held&) { Succeed(s, "p"); }, true},
    {"disabled", [](CircuitBreakerSet& s, ManualClock&, Held&) { s.disable("p"); }, true},
    {"forced open", [](CircuitBreakerSet& s, ManualClock&, Held&) { s.force_open("p"); }, false},
    {"open, 1 ns before its timeout",
     [](CircuitBreakerSet& s, ManualClock& c, Held&) {
       Fail(s, "p");
       c.advance(absl::Seconds(10) - absl::Nanoseconds(1));
     },
     false},
    {"open, at its timeout",
     [](CircuitBreakerSet& s, ManualClock& c, Held&) {
       Fail(s, "p");
       c.advance(absl::Seconds(10));
     },
     true},
    {"half-open, one probe slot of two taken",
     [](CircuitBreakerSet& s, ManualClock& c, Held& h) {
       Fail(s, "p");
       c.advance(absl::Seconds(10));
       h.push_back(s.context("p"));
     },
     true},
    {"half-open, both probe slots taken",
     [](CircuitBreakerSet& s, ManualClock& c, Held& h) {
       Fail(s, "p");
       c.advance(absl::Seconds(10));
       h.push_back(s.context("p"));
       h.push_back(s.context("p"));
     },
     false},
    {"closed, two calls of three in flight",
     [](CircuitBreakerSet& s, ManualClock&, Held& h) {
       h.push_back(s.context("p"));
       h.push_back(s.context("p"));
     },
     true},
    {"closed, three calls of three in flight",
     [](CircuitBreakerSet& s, ManualClock&, Held& h) {
       for (int i = 0; i < 3; ++i) h.push_back(s.context("p"));
     },
     false},
};

}  // namespace

struct WouldAdmitFixture : ManualSetFixture {
  WouldAdmitFixture() : ManualSetFixture(Options()) {
    set.add_listener(listener);
  }
  std::shared_ptr<RecordingListener> listener =
      std::make_shared<RecordingListener>();
};

BOOST_FIXTURE_TEST_SUITE(WouldAdmitTest, WouldAdmitFixture)

BOOST_DATA_TEST_CASE_F(WouldAdmitFixture, SaysWhatTryContextDoesAndChangesNothing,
                       bdata::make(kCases), c) {
  Held held;
  c.setup(set, clock, held);
  PeerHandle handle = set.handle("p");
  listener->clear();
  const PeerSnapshot before = SnapshotOf(set, "p");

  const bool by_name = set.would_admit("p");
  const bool by_handle = handle.would_admit();

  const PeerSnapshot after = SnapshotOf(set, "p");
  BOOST_TEST(by_name == c.admits);
  BOOST_TEST(by_handle == c.admits);
  BOOST_TEST(listener->events().empty());  // no transition, no rejection
  BOOST_TEST(after.rejections == before.rejections);
  BOOST_TEST(after.probes_in_flight == before.probes_in_flight);
  BOOST_TEST(after.in_flight == before.in_flight);
  BOOST_TEST(after.state == before.state);
  BOOST_TEST(set.try_context("p").ok() == c.admits);
}

BOOST_AUTO_TEST_CASE(AnUnknownPeerReadsTrueAndIsNotCreated) {
  BOOST_TEST(set.would_admit("new"));
  BOOST_TEST(!Tracked(set, "new"));
}

BOOST_AUTO_TEST_CASE(ABadPeerIdReadsFalse) {
  BOOST_TEST(!set.would_admit(""));
  BOOST_TEST(!set.would_admit(std::string(5000, 'x')));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
