// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The Redis store's wire forms (src/redis/protocol.h), without a server:
// every fleet state and report kind survives the trip to its wire character
// and back, the characters are the ones the Lua scripts test for, and
// replies and messages that break the schema are refused with an error that
// says what is wrong. Replies are built the way the store receives them:
// RESP bytes read by hiredis's own reader.

#include "redis/protocol.h"

#include <memory>
#include <ostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <hiredis/hiredis.h>

#include "absl/strings/str_cat.h"
#include "circuit/options.h"
#include "circuit/redis_store.h"
#include "circuit/state.h"
#include "redis/scripts.h"

namespace {

namespace bdata = boost::unit_test::data;
namespace redis = circuit::internal::redis;
using redis::FleetState;
using redis::ReportKind;

constexpr FleetState kStates[] = {FleetState::kClosed, FleetState::kOpen,
                                  FleetState::kHalfOpen};
constexpr ReportKind kKinds[] = {ReportKind::kFailures, ReportKind::kTrip,
                                 ReportKind::kHalfOpen, ReportKind::kClose,
                                 ReportKind::kReopen};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// `resp` read by hiredis, as a connection would read it.
Reply Read(std::string_view resp) {
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(),
                                                              redisReaderFree);
  BOOST_REQUIRE(redisReaderFeed(reader.get(), resp.data(), resp.size()) == REDIS_OK);
  void* raw = nullptr;
  BOOST_REQUIRE(redisReaderGetReply(reader.get(), &raw) == REDIS_OK);
  BOOST_REQUIRE(raw != nullptr);
  return Reply(static_cast<redisReply*>(raw));
}

// RESP pieces.
std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
std::string Int(long long v) { return absl::StrCat(":", v, "\r\n"); }
std::string Array(std::size_t n) { return absl::StrCat("*", n, "\r\n"); }

// One peer's five fields in a script reply.
struct Row {
  std::string hex;
  std::string st;
  long long ep = 0;
  long long rem = 0;
  std::string prober;
};
std::string ScriptReply(std::string_view inc, const std::vector<Row>& rows) {
  std::string out = Array(1 + 5 * rows.size()) + Bulk(inc);
  for (const Row& r : rows) {
    out += Bulk(r.hex) + Bulk(r.st) + Int(r.ep) + Int(r.rem) + Bulk(r.prober);
  }
  return out;
}

std::string Message(const std::string& st, const std::string& ep = "7",
                    const std::string& rem = "250", const std::string& hex = "6869") {
  return "1|inc-1|" + st + "|" + ep + "|" + rem + "|prober-a|" + hex;
}

}  // namespace

namespace circuit::internal::redis {
// For Boost.Test's messages: the wire character.
std::ostream& operator<<(std::ostream& os, FleetState s) { return os << ToWire(s); }
std::ostream& operator<<(std::ostream& os, ReportKind k) { return os << ToWire(k); }
}  // namespace circuit::internal::redis

BOOST_AUTO_TEST_SUITE(RedisProtocolTest)

BOOST_DATA_TEST_CASE(EveryFleetStateRoundTrips, bdata::make(kStates), state) {
  std::string wire(1, redis::ToWire(state));
  BOOST_TEST((redis::FleetStateFromWire(wire) == state));

  auto reply = redis::ParseFlushReply(
      Read(ScriptReply("inc-1", {{"6869", wire, 3, 40, "p"}})).get());
  BOOST_REQUIRE_MESSAGE(reply.ok(), reply.status().ToString());
  BOOST_TEST((reply->updates.at(0).state == state));

  auto message = redis::ParseMessage(Message(wire));
  BOOST_REQUIRE_MESSAGE(message.ok(), message.status().ToString());
  BOOST_TEST((message->updates.at(0).state == state));
}

BOOST_DATA_TEST_CASE(EveryReportKindRoundTrips, bdata::make(kKinds), kind) {
  std::string wire(1, redis::ToWire(kind));
  BOOST_TEST((redis::ReportKindFromWire(wire) == kind));

  // And an op of that kind carries the character where the script reads it.
  circuit::RedisOptions options;
  redis::Keys keys(options.key_prefix);
  redis::FlushCall call("sha", keys, "me", circuit::BreakerOptions{}, options);
  call.Add(redis::Op{kind, "hi", 5, "inc-1", 9});
  const std::vector<std::string>& args = call.args();
  BOOST_REQUIRE(args.size() >= 5u);
  BOOST_TEST(args[args.size() - 5] == wire);
  BOOST_TEST((redis::ReportKindFromWire(args[args.size() - 5]) == kind));
}

// The Lua scripts compare against these literals; an encoding that drifted
// from them would make every op a no-op inside Redis.
BOOST_AUTO_TEST_CASE(WireCharactersAreTheOnesTheScriptsTestFor) {
  std::string_view flush = circuit::internal::kFlushScript;
  for (ReportKind kind : kKinds) {
    std::string test = absl::StrCat("kind == '", std::string(1, redis::ToWire(kind)), "'");
    BOOST_TEST(flush.find(test) != std::string_view::npos, test);
  }
  for (FleetState state : kStates) {
    std::string test = absl::StrCat("st == '", std::string(1, redis::ToWire(state)), "'");
    BOOST_TEST(flush.find(test) != std::string_view::npos, test);
  }
  BOOST_TEST(redis::ToWire(FleetState::kClosed) == 'c');
  BOOST_TEST(redis::ToWire(FleetState::kOpen) == 'o');
  BOOST_TEST(redis::ToWire(FleetState::kHalfOpen) == 'h');
}

BOOST_DATA_TEST_CASE(WireGarbageIsNeitherStateNorKind,
                     bdata::make(std::vector<std::string>{"", "x", "C", "O", "oo", "co",
                                                          " ", std::string(1, '\0')}),
                     wire) {
  BOOST_TEST(!redis::FleetStateFromWire(wire).has_value());
  BOOST_TEST(!redis::ReportKindFromWire(wire).has_value());
}

BOOST_AUTO_TEST_CASE(EveryLocalTransitionMapsToItsReport) {
  using circuit::State;
  const State all[] = {State::kClosed, State::kOpen, State::kHalfOpen,
                       State::kForcedOpen, State::kDisabled};
  for (State from : all) {
    for (State to : all) {
      std::optional<ReportKind> expected;
      if (from == State::kClosed && to == State::kOpen) expected = ReportKind::kTrip;
      if (from == State::kHalfOpen && to == State::kOpen) expected = ReportKind::kReopen;
      if (from == State::kOpen && to == State::kHalfOpen) expected = ReportKind::kHalfOpen;
      if ((from == State::kOpen || from == State::kHalfOpen) && to == State::kClosed) {
        expected = ReportKind::kClose;
      }
      BOOST_TEST((redis::ReportKindFor(from, to) == expected),
                 from << " -> " << to);
    }
  }
}

BOOST_AUTO_TEST_CASE(HexRoundTripsEveryByte) {
  std::string raw;
  for (int c = 0; c < 256; ++c) raw.push_back(static_cast<char>(c));
  std::string hex = redis::Hex(raw);
  BOOST_TEST(hex.size() == 512u);
  BOOST_TEST(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
  std::string back;
  BOOST_TEST(redis::Unhex(hex, &back));
  BOOST_TEST(back == raw);
  for (std::string_view bad : {"", "a", "AB", "zz", "0g", "6 "}) {
    BOOST_TEST(!redis::Unhex(bad, &back), '"' << bad << '"');
  }
}

BOOST_AUTO_TEST_CASE(AFlushReplyIsReadInOrder) {
  auto parsed = redis::ParseFlushReply(
      Read(ScriptReply("1700000000.123", {{redis::Hex("peer-a"), "o", 12, 30000, "me"},
                                          {redis::Hex("b"), "h", 13, 1000, "other"},
                                          {redis::Hex("c"), "c", 14, 0, ""}}))
          .get());
  BOOST_REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  BOOST_TEST(parsed->incarnation == "1700000000.123");
  BOOST_REQUIRE(parsed->updates.size() == 3u);
  const redis::Update& a = parsed->updates[0];
  BOOST_TEST(a.peer == "peer-a");
  BOOST_TEST(a.hex == redis::Hex("peer-a"));
  BOOST_TEST((a.state == FleetState::kOpen));
  BOOST_TEST(a.epoch == 12u);
  BOOST_TEST(a.remaining_ms == 30000);
  BOOST_TEST(a.prober == "me");
  BOOST_TEST((parsed->updates[1].state == FleetState::kHalfOpen));
  BOOST_TEST((parsed->updates[2].state == FleetState::kClosed));
  BOOST_TEST(parsed->updates[2].prober == "");
}

BOOST_AUTO_TEST_CASE(ASnapshotOfNothingIsEmptyButAFlushMustNameTheIncarnation) {
  std::string nothing = Array(1) + Bulk("");
  auto snapshot = redis::ParseSnapshotReply(Read(nothing).get());
  BOOST_REQUIRE(snapshot.ok());
  BOOST_TEST(snapshot->incarnation.empty());
  BOOST_TEST(snapshot->updates.empty());
  auto flush = redis::ParseFlushReply(Read(nothing).get());
  BOOST_TEST(!flush.ok());
  BOOST_TEST(std::string(flush.status().message()).find("incarnation") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(RemainingTimeBeyondAYearIsClamped) {
  constexpr long long kYearMs = 86400000LL * 366;
  auto reply = redis::ParseFlushReply(
      Read(ScriptReply("i", {{"61", "o", 1, kYearMs * 10, "p"}})).get());
  BOOST_REQUIRE(reply.ok());
  BOOST_TEST(reply->updates[0].remaining_ms == kYearMs);
  auto message = redis::ParseMessage(Message("o", "1", absl::StrCat(kYearMs * 10)));
  BOOST_REQUIRE(message.ok());
  BOOST_TEST(message->updates[0].remaining_ms == kYearMs);
}

struct Garbage {
  std::string what;
  std::string resp;
  std::string says;  // a part of the error message
};
std::ostream& operator<<(std::ostream& os, const Garbage& g) { return os << g.what; }

const Garbage kGarbageReplies[] = {
    {"integer", Int(1), "expected an array, got an integer"},
    {"nil", "$-1\r\n", "expected an array, got nil"},
    {"nil array", "*-1\r\n", "expected an array, got nil"},
    {"error", "-ERR wrong\r\n", "expected an array, got an error"},
    {"status", "+OK\r\n", "expected an array, got a status"},
    {"empty array", Array(0), "0 elements"},
    {"short row", Array(2) + Bulk("x") + Int(-5), "2 elements"},
    {"integer incarnation", Array(1) + Int(1), "incarnation is an integer"},
    {"long incarnation", Array(1) + Bulk(std::string(65, 'i')), "incarnation"},
    {"upper-case hex", ScriptReply("i", {{"4A", "o", 1, 1, "p"}}),
     "peer 0: id \"4A\" is not lowercase hex"},
    {"odd hex", ScriptReply("i", {{"abc", "o", 1, 1, "p"}}), "not lowercase hex"},
    {"empty id", ScriptReply("i", {{"", "o", 1, 1, "p"}}), "not lowercase hex"},
    {"integer id", Array(6) + Bulk("i") + Int(5) + Bulk("o") + Int(1) + Int(1) + Bulk("p"),
     "peer 0: id is an integer"},
    {"unknown state", ScriptReply("i", {{"61", "x", 1, 1, "p"}}),
     "state \"x\" is not c, o or h"},
    {"two-character state", ScriptReply("i", {{"61", "oo", 1, 1, "p"}}), "is not c, o or h"},
    {"upper-case state", ScriptReply("i", {{"61", "O", 1, 1, "p"}}), "is not c, o or h"},
    {"integer state", Array(6) + Bulk("i") + Bulk("61") + Int(1) + Int(1) + Int(1) + Bulk("p"),
     "state is an integer"},
    {"negative epoch", ScriptReply("i", {{"61", "o", -1, 1, "p"}}), "epoch"},
    {"string epoch", Array(6) + Bulk("i") + Bulk("61") + Bulk("o") + Bulk("1") + Int(1) +
                         Bulk("p"),
     "epoch"},
    {"negative remaining", ScriptReply("i", {{"61", "o", 1, -1, "p"}}), "remaining time"},
    {"integer prober", Array(6) + Bulk("i") + Bulk("61") + Bulk("o") + Int(1) + Int(1) + Int(7),
     "prober is an integer"},
    {"bad second peer", ScriptReply("i", {{"61", "o", 1, 1, "p"}, {"62", "z", 1, 1, "p"}}),
     "peer 1: state \"z\""},
};

BOOST_DATA_TEST_CASE(GarbageRepliesAreRefusedSayingWhy, bdata::make(kGarbageReplies), g) {
  Reply reply = Read(g.resp);
  for (auto parsed : {redis::ParseFlushReply(reply.get()),
                      redis::ParseSnapshotReply(reply.get())}) {
    BOOST_REQUIRE(!parsed.ok());
    BOOST_TEST((parsed.status().code() == absl::StatusCode::kInvalidArgument));
    std::string message(parsed.status().message());
    BOOST_TEST(message.find(g.says) != std::string::npos, message);
  }
  BOOST_TEST(!redis::ParseFlushReply(nullptr).ok());
}

BOOST_AUTO_TEST_CASE(AMessageCarriesOneUpdate) {
  auto m = redis::ParseMessage("1|inc-9|o|41|5000|prober-b|" + redis::Hex("p|q"));
  BOOST_REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  BOOST_TEST(m->incarnation == "inc-9");
  BOOST_REQUIRE(m->updates.size() == 1u);
  BOOST_TEST(m->updates[0].peer == "p|q");
  BOOST_TEST(m->updates[0].epoch == 41u);
  BOOST_TEST(m->updates[0].remaining_ms == 5000);
  BOOST_TEST(m->updates[0].prober == "prober-b");
}

const Garbage kGarbageMessages[] = {
    {"empty", "", "1 fields; expected 7"},
    {"six fields", "1|inc|o|1|2|p", "6 fields"},
    {"eight fields", Message("o") + "|x", "8 fields"},
    {"other format", "2|inc|o|1|2|p|61", "format \"2\" is not 1"},
    {"no incarnation", "1||o|1|2|p|61", "incarnation is empty"},
    {"unknown state", Message("x"), "state \"x\" is not c, o or h"},
    {"empty state", Message(""), "state \"\" is not c, o or h"},
    {"word epoch", Message("o", "seven"), "epoch \"seven\" is not a number"},
    {"negative epoch", Message("o", "-1"), "epoch \"-1\""},
    {"negative remaining", Message("o", "1", "-5"), "remaining time \"-5\""},
    {"bad hex", Message("o", "1", "2", "XY"), "peer id \"XY\" is not lowercase hex"},
    {"binary state", Message(std::string(1, '\x01')), "state \"\\x01\""},
};

BOOST_DATA_TEST_CASE(GarbageMessagesAreRefusedSayingWhy, bdata::make(kGarbageMessages), g) {
  auto parsed = redis::ParseMessage(g.resp);
  BOOST_REQUIRE(!parsed.ok());
  std::string message(parsed.status().message());
  BOOST_TEST(message.find(g.says) != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(PushesAreClassified) {
  auto kind = [](const std::string& resp) { return redis::ClassifyPush(Read(resp).get()).kind; };
  Reply message = Read(Array(3) + Bulk("message") + Bulk("{c}:ev") + Bulk("body"));
  redis::Push push = redis::ClassifyPush(message.get());
  BOOST_TEST((push.kind == redis::PushKind::kMessage));
  BOOST_TEST(push.payload == "body");
  BOOST_TEST((kind(Array(2) + Bulk("pong") + Bulk("")) == redis::PushKind::kPong));
  BOOST_TEST((kind(Array(3) + Bulk("subscribe") + Bulk("{c}:ev") + Int(1)) ==
              redis::PushKind::kSubscribed));
  BOOST_TEST((kind("-NOAUTH Authentication required.\r\n") == redis::PushKind::kError));
  BOOST_TEST((kind(Array(3) + Bulk("message") + Bulk("{c}:ev") + Int(1)) ==
              redis::PushKind::kOther));
  BOOST_TEST((kind(Int(1)) == redis::PushKind::kOther));
  BOOST_TEST((redis::ClassifyPush(nullptr).kind == redis::PushKind::kOther));
}

BOOST_AUTO_TEST_CASE(ScriptRepliesAreRecognised) {
  BOOST_TEST(redis::IsNoScript(Read("-NOSCRIPT No matching script.\r\n").get()));
  BOOST_TEST(!redis::IsNoScript(Read("-ERR other\r\n").get()));
  BOOST_TEST(!redis::IsNoScript(Read(Bulk("NOSCRIPT")).get()));
  BOOST_TEST(redis::IsScriptSha(Read(Bulk(std::string(40, 'a'))).get()));
  BOOST_TEST(!redis::IsScriptSha(Read(Bulk(std::string(39, 'a'))).get()));
  BOOST_TEST(redis::ErrorText(Read("-BUSY running\r\n").get()) == "BUSY running");
  BOOST_TEST(redis::ErrorText(Read(Bulk("x")).get()) == "");
}

BOOST_AUTO_TEST_CASE(AFlushCallCarriesThePolicyThenTheOps) {
  circuit::RedisOptions options;
  options.key_prefix = "shop";
  options.min_reporters = 2;
  options.probe_lease = absl::Milliseconds(1500);
  circuit::BreakerOptions policy;
  policy.max_failures = 4;
  policy.time_unit = absl::Seconds(10);
  policy.reset_timeout = absl::Seconds(30);
  redis::Keys keys(options.key_prefix);
  redis::FlushCall call("0123", keys, "me", policy, options);
  const std::vector<std::string> head = {
      "EVALSHA", "0123", "2", "{shop}:m", "{shop}:o", "me", "4", "10000", "10",
      "2", "30000", absl::StrCat(policy.backoff_multiplier), "-1", "1500", "{shop}"};
  BOOST_TEST(call.args() == head, boost::test_tools::per_element());
  BOOST_TEST(call.args()[redis::kShaArg] == "0123");

  call.Add(redis::Op{ReportKind::kFailures, "a", 3, "", -1});
  call.Add(redis::Op{ReportKind::kHalfOpen, "b", 0, "inc", 8});
  BOOST_TEST(call.ops() == 2);
  std::vector<std::string> ops(call.args().begin() + head.size(), call.args().end());
  const std::vector<std::string> expected = {"f", "61", "3", "", "-1",
                                             "h", "62", "0", "inc", "8"};
  BOOST_TEST(ops == expected, boost::test_tools::per_element());
  BOOST_TEST(call.lease_requests().size() == 1u);
  BOOST_TEST(call.lease_requests().contains("62"));

  call.Clear();
  BOOST_TEST(call.ops() == 0);
  BOOST_TEST(call.lease_requests().empty());
  BOOST_TEST(call.args() == head, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ASnapshotCallNamesAtMost1024Arguments) {
  redis::Keys keys("k");
  std::vector<std::string> believed(2000, "peer");
  std::vector<std::string> args = redis::SnapshotCall("sha", keys, "inc", believed);
  BOOST_TEST(args.size() == 1024u);
  BOOST_TEST(args[redis::kShaArg] == "sha");
  BOOST_TEST(args[6] == "inc");
  BOOST_TEST(args[7] == redis::Hex("peer"));
  BOOST_TEST(redis::SnapshotCall("sha", keys, "", {}).size() == 7u);
}

BOOST_AUTO_TEST_SUITE_END()
