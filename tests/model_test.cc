// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Model-based test: random sequences of operations (admissions through
// context / try_context / handles / call, every kind of outcome, clock moves
// onto and around every deadline and window edge, manual controls, option
// changes) run against the real `CircuitBreakerSet` on a `ManualClock` and
// against `ReferenceModel` (tests/model/reference_model.h), comparing every
// decision and, after every step, every peer's state, snapshot and listener
// events. A failing seed is shrunk and printed as C++-like steps.
//
// Knobs (environment):
//   CIRCUIT_MODEL_SEEDS=N   how many seeds (default 2000)
//   CIRCUIT_MODEL_STEPS=N   steps per seed (default 200)
//   CIRCUIT_MODEL_SEED=S    run only seed S (to reproduce a report)

#include <cstdint>
#include <cstdlib>
#include <string>

#include <boost/test/unit_test.hpp>

#include "absl/strings/str_cat.h"
#include "model/harness.h"
#include "model/reference_model.h"

namespace {

using circuit::model::Generator;
using circuit::model::Harness;
using circuit::model::Op;
using circuit::model::Scenario;

std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::strtoull(v, nullptr, 10);
}

struct SeedResult {
  std::string error;  // "" when the seed passed
  Scenario scenario;
  int trips = 0, probes = 0;
};

// Generates and runs one seed, recording the ops as it goes.
SeedResult RunSeed(std::uint64_t seed, int steps) {
  Generator gen(seed * 0x9E3779B97F4A7C15ull + 1);
  SeedResult r;
  r.scenario.defaults = gen.Options();
  Harness h(r.scenario.defaults);
  for (int i = 0; i < steps; ++i) {
    Op op = gen.Next(h, i);
    r.scenario.ops.push_back(op);
    r.error = h.Step(op);
    if (!r.error.empty()) break;
  }
  for (const auto& change : h.model().changes()) {
    if (std::get<2>(change) == circuit::State::kOpen) ++r.trips;
    if (std::get<2>(change) == circuit::State::kHalfOpen) ++r.probes;
  }
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ModelTest)

BOOST_AUTO_TEST_CASE(RealSetMatchesTheModelOnRandomSequences) {
  const std::uint64_t only = EnvOr("CIRCUIT_MODEL_SEED", UINT64_MAX);
  const std::uint64_t seeds = EnvOr("CIRCUIT_MODEL_SEEDS", 2000);
  const int steps = static_cast<int>(EnvOr("CIRCUIT_MODEL_STEPS", 200));
  const std::uint64_t first = only == UINT64_MAX ? 0 : only;
  const std::uint64_t last = only == UINT64_MAX ? seeds : only + 1;

  int failures = 0;
  long trips = 0, probes = 0;
  for (std::uint64_t seed = first; seed < last && failures < 3; ++seed) {
    SeedResult r = RunSeed(seed, steps);
    trips += r.trips;
    probes += r.probes;
    if (r.error.empty()) continue;
    ++failures;
    Scenario small = circuit::model::Shrink(r.scenario);
    BOOST_ERROR(absl::StrCat("seed ", seed, " (", r.scenario.ops.size(),
                             " steps, shrunk to ", small.ops.size(), "): ", r.error,
                             "\nre-run alone with CIRCUIT_MODEL_SEED=", seed,
                             "\nreproduction:\n",
                             circuit::model::Reproduction(small)));
  }
  // The generator must actually reach the interesting states.
  BOOST_TEST_MESSAGE("model test: " << (last - first) << " seeds x " << steps
                                    << " steps, " << trips << " trips, " << probes
                                    << " half-open periods");
  if (only == UINT64_MAX && seeds >= 100) {
    BOOST_TEST(trips > static_cast<long>(seeds));
    BOOST_TEST(probes > static_cast<long>(seeds) / 2);
  }
}

BOOST_AUTO_TEST_SUITE_END()
