// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// `PrometheusCollectable`: collected next to a service's own Registry, as an
// Exposer scrapes them (each registered collectable's families, in turn),
// serialized with prometheus::TextSerializer, and checked against the set.

#include "circuit/prometheus.h"

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "test_util.h"

namespace circuit::testing {
namespace {

// The sample lines of a text exposition: "name{labels}" -> value.
std::map<std::string, double> SamplesOf(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

struct Fixture : ManualSetFixture {
  std::shared_ptr<prometheus::Registry> registry =
      std::make_shared<prometheus::Registry>();
  std::shared_ptr<PrometheusCollectable> circuits =
      std::make_shared<PrometheusCollectable>(set);

  // What an Exposer with `registry` and `circuits` registered serves:
  // each live collectable's families, serialized as text.
  std::string Scrape() {
    std::vector<std::weak_ptr<prometheus::Collectable>> registered = {
        registry, circuits};
    std::vector<prometheus::MetricFamily> families;
    for (const auto& weak : registered) {
      if (auto c = weak.lock()) {
        for (auto& f : c->Collect()) families.push_back(std::move(f));
      }
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    return out.str();
  }

  // The scrape's sample lines.
  std::map<std::string, double> Samples() { return SamplesOf(Scrape()); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(PrometheusCollectableTest, Fixture)

BOOST_AUTO_TEST_CASE(CollectsTheSameFamiliesAsTheTextExposition) {
  set.context("p").succeed();

  std::vector<prometheus::MetricFamily> families = circuits->Collect();

  std::map<std::string, prometheus::MetricType> types;
  for (const auto& f : families) types[f.name] = f.type;
  BOOST_TEST(families.size() == 8u);
  BOOST_TEST((types["circuit_state"] == prometheus::MetricType::Gauge));
  BOOST_TEST((types["circuit_in_flight"] == prometheus::MetricType::Gauge));
  for (const char* c :
       {"circuit_calls_total", "circuit_failures_total",
        "circuit_rejections_total", "circuit_trips_total",
        "circuit_ejections_total", "circuit_suppressed_trips_total"}) {
    BOOST_TEST((types[c] == prometheus::MetricType::Counter), c);
  }
}

BOOST_AUTO_TEST_CASE(ScrapesNextToTheServicesOwnMetrics) {
  auto& requests = prometheus::BuildCounter()
                       .Name("service_requests_total")
                       .Help("Requests.")
                       .Register(*registry)
                       .Add({});
  requests.Increment(3);
  for (int i = 0; i < 4; ++i) set.context("db").fail();
  (void)set.try_context("db");

  std::map<std::string, double> s = Samples();

  BOOST_TEST(s["service_requests_total"] == 3);
  BOOST_TEST(s["circuit_state{peer=\"db\",state=\"open\"}"] == 1);
  BOOST_TEST(s["circuit_state{peer=\"db\",state=\"closed\"}"] == 0);
  BOOST_TEST(s["circuit_calls_total{peer=\"db\"}"] == 4);
  BOOST_TEST(s["circuit_failures_total{peer=\"db\"}"] == 4);
  BOOST_TEST(s["circuit_rejections_total{peer=\"db\"}"] == 1);
  BOOST_TEST(s["circuit_trips_total{peer=\"db\"}"] == 1);
}

BOOST_AUTO_TEST_CASE(OneGaugePerPeerAndState) {
  set.context("a").succeed();
  set.force_open("b");

  std::map<std::string, double> s = Samples();

  int series = 0;
  double ones = 0;
  for (const auto& [key, value] : s) {
    if (key.starts_with("circuit_state{")) {
      ++series;
      ones += value;
    }
  }
  BOOST_TEST(series == 10);
  BOOST_TEST(ones == 2);
  BOOST_TEST(s["circuit_state{peer=\"b\",state=\"forced-open\"}"] == 1);
}

BOOST_AUTO_TEST_CASE(ValuesFollowTheSetBetweenScrapes) {
  set.context("p").succeed();
  BOOST_REQUIRE(Samples()["circuit_calls_total{peer=\"p\"}"] == 1);

  for (int i = 0; i < 4; ++i) set.context("p").fail();
  clock.advance(absl::Seconds(10));

  std::map<std::string, double> s = Samples();
  BOOST_TEST(s["circuit_calls_total{peer=\"p\"}"] == 5);
  BOOST_TEST(s["circuit_state{peer=\"p\",state=\"half-open\"}"] == 1);
}

// The same mapping as prometheus_text(): an invalid byte is \xHH and a
// backslash \\ in the label value, which the serializer escapes again.
BOOST_AUTO_TEST_CASE(LabelsAreEscapedAndValidUtf8) {
  set.context("a\"b\\c\nd").succeed();
  set.context("x\xFF").succeed();
  set.context("s\xC3\xA9rvice-\xC3\xBC").succeed();

  std::string text = Scrape();

  BOOST_TEST(absl::StrContains(text, R"(peer="a\"b\\\\c\nd")"));
  BOOST_TEST(absl::StrContains(text, R"(peer="x\\xFF")"));
  BOOST_TEST(absl::StrContains(text, "peer=\"s\xC3\xA9rvice-\xC3\xBC\""));
  BOOST_TEST(!absl::StrContains(text, "\xFF"));
}

BOOST_AUTO_TEST_CASE(DistinctPeersGetDistinctSeries) {
  for (const char* peer : {"db\xff", "db\xfe", "db\\xFF", "db\\\\xFF"}) {
    set.context(peer).succeed();
  }

  std::vector<std::string> calls;
  std::istringstream in(Scrape());
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("circuit_calls_total{")) calls.push_back(line);
  }
  std::set<std::string> distinct(calls.begin(), calls.end());

  BOOST_TEST(calls.size() == 4u);
  BOOST_TEST(distinct.size() == 4u);
}

BOOST_AUTO_TEST_CASE(APrefixReplacesCircuit) {
  set.context("p").succeed();
  auto edge = std::make_shared<PrometheusCollectable>(set, "edge-proxy");

  std::vector<prometheus::MetricFamily> families = edge->Collect();

  BOOST_TEST(families.front().name == "edge_proxy_state");
}

BOOST_AUTO_TEST_CASE(AgreesWithTheTextExposition) {
  for (int i = 0; i < 4; ++i) set.context("open").fail();
  set.context("ok").succeed();
  set.disable("off");
  for (const char* peer : {"db\xff", "db\xfe", "db\\xFF", "q\"\n\\",
                           "s\xC3\xA9rvice-\xC3\xBC", "x\xC3("}) {
    set.context(peer).fail();
  }

  std::map<std::string, double> from_collectable = Samples();
  std::map<std::string, double> from_text = SamplesOf(set.prometheus_text());

  BOOST_TEST(from_collectable == from_text);
}

BOOST_AUTO_TEST_CASE(AnEmptySetCollectsEmptyFamilies) {
  std::vector<prometheus::MetricFamily> families = circuits->Collect();

  BOOST_TEST(families.size() == 8u);
  for (const auto& f : families) BOOST_TEST(f.metric.empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace circuit::testing
