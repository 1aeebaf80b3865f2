// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// `prometheus_text()`, checked against the Prometheus text exposition
// format 0.0.4 by a small parser written from the format's description:
// HELP and TYPE lines before their samples, one block per family, no series
// twice, label values escaped (\\, \", \n) and valid UTF-8, one gauge per
// peer and state, and counters that agree with the snapshot. Peer labels
// are read back through the inverse of the documented mapping (`PeerOf`),
// so every peer must keep a label of its own.

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "test_util.h"

namespace bdata = boost::unit_test::data;

namespace circuit::testing {
namespace {

// ---------------------------------------------------------------------------
// A strict reader of the text format.

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> type;  // family -> type
  std::map<std::string, std::string> help;
  std::vector<Sample> samples;
  std::vector<std::string> errors;  // empty: well formed
};

bool IsMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsLabelName(std::string_view s) {
  return IsMetricName(s) && s.find(':') == std::string_view::npos;
}

// Parses one sample line; appends to `errors` what is wrong with it.
Sample ParseSample(std::string_view line, std::vector<std::string>& errors) {
  Sample out;
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  out.name = std::string(line.substr(0, i));
  if (!IsMetricName(out.name)) errors.push_back("bad metric name: " + out.name);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      std::size_t eq = line.find('=', i);
      if (eq == std::string_view::npos) {
        errors.push_back("label without '=': " + std::string(line));
        return out;
      }
      std::string name(line.substr(i, eq - i));
      if (!IsLabelName(name)) errors.push_back("bad label name: " + name);
      i = eq + 1;
      if (i >= line.size() || line[i] != '"') {
        errors.push_back("label value not quoted: " + std::string(line));
        return out;
      }
      ++i;
      std::string value;
      for (;; ++i) {
        if (i >= line.size()) {
          errors.push_back("unterminated label value: " + std::string(line));
          return out;
        }
        char c = line[i];
        if (c == '"') break;
        if (c == '\\') {
          char e = i + 1 < line.size() ? line[i + 1] : '\0';
          if (e == '\\') {
            value += '\\';
          } else if (e == '"') {
            value += '"';
          } else if (e == 'n') {
            value += '\n';
          } else {
            errors.push_back("bad escape in: " + std::string(line));
          }
          ++i;
          continue;
        }
        value += c;
      }
      ++i;  // the closing quote
      if (!out.labels.emplace(name, value).second) {
        errors.push_back("repeated label: " + name);
      }
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) {
      errors.push_back("unterminated label set: " + std::string(line));
      return out;
    }
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') {
    errors.push_back("no space before the value: " + std::string(line));
    return out;
  }
  std::string value(line.substr(i + 1));
  char* end = nullptr;
  out.value = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0') {
    errors.push_back("bad value: " + std::string(line));
  }
  return out;
}

// Splits on `sep`, at most `max_parts` parts (the last takes the rest).
std::vector<std::string_view> Split(std::string_view s, char sep,
                                    std::size_t max_parts = SIZE_MAX) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < max_parts) {
    std::size_t at = s.find(sep);
    if (at == std::string_view::npos) break;
    out.push_back(s.substr(0, at));
    s.remove_prefix(at + 1);
  }
  out.push_back(s);
  return out;
}

Exposition Parse(std::string_view text) {
  Exposition x;
  std::set<std::pair<std::string, std::map<std::string, std::string>>> series;
  if (!ValidUtf8(text)) x.errors.push_back("not valid UTF-8");
  if (!text.empty() && text.back() != '\n') {
    x.errors.push_back("does not end with a newline");
  }
  std::set<std::string> finished;  // families whose samples are over
  std::string current;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::vector<std::string_view> parts = Split(line, ' ', 4);
      if (parts.size() < 3 || parts[0] != "#" ||
          (parts[1] != "HELP" && parts[1] != "TYPE")) {
        continue;  // a plain comment
      }
      std::string family(parts[2]);
      std::string rest = parts.size() > 3 ? std::string(parts[3]) : "";
      if (!IsMetricName(family)) x.errors.push_back("bad family: " + family);
      auto& map = parts[1] == "HELP" ? x.help : x.type;
      if (!map.emplace(family, rest).second) {
        x.errors.push_back("second " + std::string(parts[1]) + " for " + family);
      }
      if (parts[1] == "TYPE" &&
          (rest != "counter" && rest != "gauge" && rest != "histogram" &&
           rest != "summary" && rest != "untyped")) {
        x.errors.push_back("bad type: " + rest);
      }
      bool seen = current == family || finished.count(family) > 0;
      if (parts[1] == "TYPE" && seen) {
        x.errors.push_back("TYPE after samples of " + family);
      }
      continue;
    }
    Sample s = ParseSample(line, x.errors);
    if (s.name != current) {
      if (!current.empty()) finished.insert(current);
      if (finished.count(s.name) > 0) {
        x.errors.push_back("samples of " + s.name + " are not one block");
      }
      current = s.name;
    }
    if (x.type.count(s.name) == 0) {
      x.errors.push_back("sample before its TYPE: " + s.name);
    }
    if (!series.emplace(s.name, s.labels).second) {
      x.errors.push_back("repeated series: " + std::string(line));
    }
    x.samples.push_back(std::move(s));
  }
  return x;
}

// The peer id a peer label (as parsed, format escapes undone) stands for:
// \\ is a backslash, \xHH (two upper-case hex digits) the byte 0xHH, any
// other character itself. Empty when the label is no image of the mapping.
std::optional<std::string> PeerOf(std::string_view label) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < label.size(); ++i) {
    if (label[i] != '\\') {
      out += label[i];
    } else if (i + 1 < label.size() && label[i + 1] == '\\') {
      out += '\\';
      i += 1;
    } else if (i + 3 < label.size() && label[i + 1] == 'x' &&
               hex(label[i + 2]) >= 0 && hex(label[i + 3]) >= 0) {
      out += static_cast<char>(hex(label[i + 2]) * 16 + hex(label[i + 3]));
      i += 3;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// The value of `family`{peer=`peer`[, state=`state`]}, or -1 when absent
// (and -2 when present more than once).
double ValueOf(const Exposition& x, const std::string& family,
               const std::string& peer, const std::string& state = "") {
  double found = -1;
  for (const Sample& s : x.samples) {
    if (s.name != family) continue;
    auto p = s.labels.find("peer");
    if (p == s.labels.end() || PeerOf(p->second) != peer) continue;
    if (!state.empty()) {
      auto st = s.labels.find("state");
      if (st == s.labels.end() || st->second != state) continue;
    }
    found = found == -1 ? s.value : -2;
  }
  return found;
}

std::string ErrorsOf(const Exposition& x) {
  std::string out;
  for (const std::string& e : x.errors) out += e + "\n";
  return out;
}

const char* const kCounters[] = {
    "circuit_calls_total",      "circuit_failures_total",
    "circuit_rejections_total", "circuit_trips_total",
    "circuit_ejections_total",  "circuit_suppressed_trips_total"};
// Per peer: one series per state, counter and gauge (circuit_in_flight).
constexpr std::size_t kSeriesPerPeer = 5 + std::size(kCounters) + 1;
const State kStates[] = {State::kClosed, State::kOpen, State::kHalfOpen,
                         State::kForcedOpen, State::kDisabled};

struct Fixture : ManualSetFixture {
  // Admits one call to `peer`, a new peer, and checks the exposition: well
  // formed, the peer labelled as `label` (as written in the text), its one
  // call counted, and one series per state, counter and gauge.
  void ExpectOneCallLabelled(std::string_view peer, std::string_view label) {
    set.context(peer).succeed();

    std::string text = set.prometheus_text();
    Exposition x = Parse(text);

    BOOST_TEST(x.errors.empty(), ErrorsOf(x));
    BOOST_TEST(absl::StrContains(text, "peer=\"" + std::string(label) + "\""));
    BOOST_TEST(ValueOf(x, "circuit_calls_total", std::string(peer)) == 1);
    BOOST_TEST(x.samples.size() == kSeriesPerPeer);
  }

  // One peer in each state, with some traffic.
  void MixOfPeers() {
    set.context("closed").succeed();
    set.context("closed").fail();
    for (int i = 0; i < 4; ++i) set.context("open").fail();
    (void)set.try_context("open");
    set.open("half");
    clock.advance(absl::Seconds(10));  // "open" and "half" read half-open
    for (int i = 0; i < 4; ++i) set.context("open2").fail();
    set.force_open("forced");
    (void)set.try_context("forced");
    set.disable("disabled");
    set.context("disabled").fail();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(MetricsTest, Fixture)

BOOST_AUTO_TEST_CASE(AnEmptySetHasEveryFamilyAndNoSamples) {
  Exposition x = Parse(set.prometheus_text());

  BOOST_TEST(x.errors.empty(), ErrorsOf(x));
  BOOST_TEST(x.samples.empty());
  BOOST_TEST(x.type["circuit_state"] == "gauge");
  for (const char* c : kCounters) {
    BOOST_TEST(x.type[c] == "counter");
    BOOST_TEST(!x.help[c].empty());
  }
  BOOST_TEST(!x.help["circuit_state"].empty());
  BOOST_TEST(x.type["circuit_in_flight"] == "gauge");
  BOOST_TEST(!x.help["circuit_in_flight"].empty());
}

BOOST_AUTO_TEST_CASE(IsWellFormedForEveryState) {
  MixOfPeers();

  Exposition x = Parse(set.prometheus_text());

  BOOST_TEST(x.errors.empty(), ErrorsOf(x));
  BOOST_TEST(x.samples.size() == 6 * kSeriesPerPeer);
}

BOOST_AUTO_TEST_CASE(OneGaugePerPeerAndStateWithTheCurrentOneSet) {
  MixOfPeers();

  Exposition x = Parse(set.prometheus_text());

  for (const PeerSnapshot& s : set.snapshot()) {
    for (State st : kStates) {
      std::string name(state_name(st));
      BOOST_TEST(ValueOf(x, "circuit_state", s.peer, name) ==
                     (s.state == st ? 1 : 0),
                 s.peer << " " << name);
    }
  }
  BOOST_TEST(ValueOf(x, "circuit_state", "half", "half-open") == 1);
  BOOST_TEST(ValueOf(x, "circuit_state", "open2", "open") == 1);
  BOOST_TEST(ValueOf(x, "circuit_state", "forced", "forced-open") == 1);
  BOOST_TEST(ValueOf(x, "circuit_state", "disabled", "disabled") == 1);
}

BOOST_AUTO_TEST_CASE(CountersAgreeWithTheSnapshot) {
  MixOfPeers();

  Exposition x = Parse(set.prometheus_text());

  BOOST_TEST(ValueOf(x, "circuit_calls_total", "closed") == 2);
  BOOST_TEST(ValueOf(x, "circuit_failures_total", "closed") == 1);
  BOOST_TEST(ValueOf(x, "circuit_failures_total", "open") == 4);
  BOOST_TEST(ValueOf(x, "circuit_rejections_total", "open") == 1);
  BOOST_TEST(ValueOf(x, "circuit_trips_total", "open") == 1);
  BOOST_TEST(ValueOf(x, "circuit_rejections_total", "forced") == 1);
  BOOST_TEST(ValueOf(x, "circuit_failures_total", "disabled") == 1);
  BOOST_TEST(ValueOf(x, "circuit_trips_total", "disabled") == 0);
}

BOOST_AUTO_TEST_CASE(CountersGrow) {
  for (int i = 0; i < 4; ++i) set.context("p").fail();
  clock.advance(absl::Seconds(10));
  set.context("p").fail();  // the probe fails

  Exposition x = Parse(set.prometheus_text());

  BOOST_TEST(ValueOf(x, "circuit_trips_total", "p") == 2);
  BOOST_TEST(ValueOf(x, "circuit_calls_total", "p") == 5);
}

// A quote and a newline are escaped as the format says; a backslash is
// doubled by the peer mapping and then again by the format.
BOOST_AUTO_TEST_CASE(LabelValuesAreEscaped) {
  ExpectOneCallLabelled("a\\b\"c\nd", "a\\\\\\\\b\\\"c\\nd");
}

BOOST_DATA_TEST_CASE_F(Fixture, ValidUtf8IsKept,
                       bdata::make({"m\xC3\xBCnchen-\xF0\x9F\x99\x82",  // münchen-🙂
                                    "s\xC3\xA9rvice-\xC3\xBC"}),         // sérvice-ü
                       peer) {
  ExpectOneCallLabelled(peer, peer);
}

// Peer ids are bytes; each byte that is not part of valid UTF-8 is written
// as \xHH inside the label value (\\xHH in the text), so a scraper never
// sees invalid UTF-8 and no two peers share a label.
BOOST_DATA_TEST_CASE_F(
    Fixture, InvalidBytesAreWrittenInHex,
    bdata::make({std::string("x\xFF"), std::string("x\xC3("),
                 std::string("x\xE2\x82"),          // truncated
                 std::string("x\xC0\xAF"),          // overlong '/'
                 std::string("x\xED\xA0\x80"),      // a surrogate
                 std::string("x\xF4\x90\x80\x80"),  // past U+10FFFF
                 std::string("x\xF8\x88\x80\x80\x80")}) ^
        bdata::make({R"(x\\xFF)", R"(x\\xC3()", R"(x\\xE2\\x82)",
                     R"(x\\xC0\\xAF)", R"(x\\xED\\xA0\\x80)",
                     R"(x\\xF4\\x90\\x80\\x80)",
                     R"(x\\xF8\\x88\\x80\\x80\\x80)"}),
    peer, label_text) {
  ExpectOneCallLabelled(peer, label_text);
}

BOOST_AUTO_TEST_CASE(PeersDifferingOnlyInInvalidBytesKeepTheirOwnSeries) {
  set.context("db\xff").succeed();
  set.context("db\xfe").fail();

  std::string text = set.prometheus_text();
  Exposition x = Parse(text);

  BOOST_TEST(x.errors.empty(), ErrorsOf(x));
  BOOST_TEST(x.samples.size() == 2 * kSeriesPerPeer);
  BOOST_TEST(absl::StrContains(text, R"(circuit_calls_total{peer="db\\xFF"} 1)"));
  BOOST_TEST(absl::StrContains(text, R"(circuit_calls_total{peer="db\\xFE"} 1)"));
  BOOST_TEST(ValueOf(x, "circuit_failures_total", "db\xff") == 0);
  BOOST_TEST(ValueOf(x, "circuit_failures_total", "db\xfe") == 1);
}

// A literal backslash followed by "xFF" must not read as the byte 0xFF.
BOOST_AUTO_TEST_CASE(ABackslashCannotPoseAsAnInvalidByte) {
  const std::string literal = "db\\xFF";
  const std::string byte = "db\xFF";
  set.context(literal).succeed();
  set.context(byte).fail();

  std::string text = set.prometheus_text();
  Exposition x = Parse(text);

  BOOST_TEST(x.errors.empty(), ErrorsOf(x));
  BOOST_TEST(absl::StrContains(text, R"(circuit_calls_total{peer="db\\\\xFF"} 1)"));
  BOOST_TEST(absl::StrContains(text, R"(circuit_calls_total{peer="db\\xFF"} 1)"));
  BOOST_TEST(ValueOf(x, "circuit_failures_total", literal) == 0);
  BOOST_TEST(ValueOf(x, "circuit_failures_total", byte) == 1);
}

// Many random byte strings, weighted towards the characters the mapping
// treats specially: every peer gets a label of its own, and the label reads
// back as the peer.
BOOST_AUTO_TEST_CASE(TheLabelMappingIsInjective) {
  const char kSpecial[] = {'\\', 'x', 'F', 'f', '0', '"', '\n', '\xFF', '\xFE',
                           '\xC3', '\xA9', '\xE2', '\x82', '\xAC', '\x80',
                           '\xF0', '\x9F', '\xED', '\xA0'};
  std::mt19937 rng(7);  // fixed: the same strings every run
  std::set<std::string> peers;
  while (peers.size() < 3000) {
    std::string peer(1 + rng() % 8, '\0');
    for (char& c : peer) {
      c = rng() % 2 == 0 ? kSpecial[rng() % sizeof kSpecial]
                         : static_cast<char>(rng() % 256);
    }
    peers.insert(peer);
  }
  for (const std::string& peer : peers) set.context(peer).succeed();

  Exposition x = Parse(set.prometheus_text());

  BOOST_TEST(x.errors.empty(), ErrorsOf(x));  // no series twice, valid UTF-8
  std::set<std::string> labels;
  std::set<std::string> read_back;
  int unreadable = 0;
  for (const Sample& s : x.samples) {
    if (s.name != "circuit_calls_total") continue;
    const std::string& label = s.labels.at("peer");
    labels.insert(label);
    std::optional<std::string> peer = PeerOf(label);
    if (peer) read_back.insert(*peer);
    if (!peer) ++unreadable;
  }
  BOOST_TEST(labels.size() == peers.size());
  BOOST_TEST(unreadable == 0);
  BOOST_TEST((read_back == peers));
}

BOOST_AUTO_TEST_CASE(APrefixReplacesCircuit) {
  set.context("p").succeed();

  Exposition x = Parse(set.prometheus_text("edge"));

  BOOST_TEST(x.errors.empty(), ErrorsOf(x));
  BOOST_TEST(x.type["edge_state"] == "gauge");
  BOOST_TEST(x.type["edge_calls_total"] == "counter");
  BOOST_TEST(x.type.count("circuit_state") == 0u);
  BOOST_TEST(ValueOf(x, "edge_calls_total", "p") == 1);
}

// A prefix is made into a valid metric name rather than break the scrape.
BOOST_DATA_TEST_CASE_F(Fixture, AnyPrefixGivesValidNames,
                       bdata::make({"my-app", "9lives", "a b", "", "ns:sub",
                                    "caf\xC3\xA9"}),
                       prefix) {
  set.context("p").succeed();

  Exposition x = Parse(set.prometheus_text(prefix));

  BOOST_TEST(x.errors.empty(), ErrorsOf(x));
  BOOST_TEST(x.samples.size() == kSeriesPerPeer);
}

BOOST_AUTO_TEST_CASE(ManyPeersEachAppearOncePerSeries) {
  for (int i = 0; i < 100; ++i) set.context("peer-" + std::to_string(i)).succeed();

  Exposition x = Parse(set.prometheus_text());

  BOOST_TEST(x.errors.empty(), ErrorsOf(x));
  for (int i = 0; i < 100; ++i) {
    BOOST_TEST(ValueOf(x, "circuit_calls_total", "peer-" + std::to_string(i)) ==
               1);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
