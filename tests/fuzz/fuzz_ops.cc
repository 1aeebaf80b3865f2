// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: decodes bytes into `BreakerOptions` (tame values, or raw
// ones: negative, huge, infinite, NaN) and a start time, then into a
// sequence of the model test's operations (tests/model/harness.h), and runs
// them against a real `CircuitBreakerSet` and the reference model.
//
// It must never crash, and:
//   - `validate()` agrees with the model's own reading of options.h, and the
//     set's constructor and `configure()` throw `std::invalid_argument` with
//     `validate()`'s message exactly when it fails;
//   - while the options stay inside what the model covers and the clock
//     moves forward, every decision, state, snapshot and event matches the
//     model; past that, the invariants hold (counts add up, states are
//     valid, call() passes results and exceptions through).
// A violation prints the steps as C++ and aborts.
//
// Built with clang as a libFuzzer binary; with other compilers
// replay_main.cc turns it into a corpus replayer (see meson.build).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "../model/harness.h"
#include "../model/reference_model.h"
#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/options.h"

namespace {

using circuit::BreakerOptions;
using circuit::model::Harness;
using circuit::model::Op;

// Reads the input front to back; past the end, every read is zero.
class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  std::uint8_t U8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  std::uint16_t U16() { return static_cast<std::uint16_t>(U8() | (U8() << 8)); }
  std::uint32_t U32() { return U16() | (static_cast<std::uint32_t>(U16()) << 16); }
  std::uint64_t U64() { return U32() | (static_cast<std::uint64_t>(U32()) << 32); }
  std::int64_t I64() { return static_cast<std::int64_t>(U64()); }
  double F64() {
    std::uint64_t bits = U64();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

absl::Duration WildDuration(Bytes& in) {
  switch (in.U8() % 8) {
    case 0: return absl::InfiniteDuration();
    case 1: return -absl::InfiniteDuration();
    case 2: return absl::Nanoseconds(in.I64());
    case 3: return absl::Seconds(in.I64());  // finite, may exceed int64 ns
    case 4: return absl::ZeroDuration();
    default: return absl::Nanoseconds(static_cast<std::int16_t>(in.U16()));
  }
}

double WildDouble(Bytes& in) {
  switch (in.U8() % 8) {
    case 0: return std::numeric_limits<double>::quiet_NaN();
    case 1: return std::numeric_limits<double>::infinity();
    case 2: return -std::numeric_limits<double>::infinity();
    case 3: return in.F64();
    default: return (in.U8() % 24) / 10.0 - 0.2;  // -0.2 .. 2.1
  }
}

int WildInt(Bytes& in) {
  switch (in.U8() % 4) {
    case 0: return static_cast<int>(in.U32());
    case 1: return circuit::kUnlimited;
    default: return static_cast<int>(in.U8() % 8) - 2;  // -2 .. 5
  }
}

BreakerOptions DecodeOptions(Bytes& in) {
  BreakerOptions o;
  const std::uint8_t mode = in.U8() % 4;
  if (mode == 0) {
    // Raw values: most are invalid somewhere.
    o.max_failures = WildInt(in);
    o.time_unit = WildDuration(in);
    o.reset_timeout = WildDuration(in);
    o.half_open_max_calls = WildInt(in);
    o.half_open_successes = WildInt(in);
    o.consecutive_failures = WildInt(in);
    o.failure_rate_threshold = WildDouble(in);
    o.minimum_calls = WildInt(in);
    o.window_buckets = WildInt(in);
    o.slow_call_duration = WildDuration(in);
    o.slow_call_rate_threshold = WildDouble(in);
    o.backoff_multiplier = WildDouble(in);
    o.max_reset_timeout = WildDuration(in);
    o.jitter = WildDouble(in);
    return o;
  }
  // Tame values inside what the model covers...
  const int max_failures[] = {0, 1, 2, 3, 5, circuit::kUnlimited};
  o.max_failures = max_failures[in.U8() % 6];
  o.time_unit = absl::Milliseconds(1 + in.U16() % 60000);
  o.reset_timeout = absl::Milliseconds(in.U16() % 20000);
  o.half_open_max_calls = 1 + in.U8() % 4;
  o.half_open_successes = 1 + in.U8() % 4;
  o.consecutive_failures = in.U8() % 5;
  if (mode == 3) {
    // ...or with the rules the model does not cover.
    o.failure_rate_threshold = (in.U8() % 11) / 10.0;
    o.minimum_calls = 1 + in.U8() % 10;
    o.window_buckets = 1 + in.U8() % 20;
    o.slow_call_duration = absl::Milliseconds(in.U8() % 4);
    if (o.slow_call_duration > absl::ZeroDuration()) {
      o.slow_call_rate_threshold = (in.U8() % 11) / 10.0;
    }
    o.backoff_multiplier = 1 + (in.U8() % 40) / 10.0;
    o.max_reset_timeout = o.reset_timeout + absl::Milliseconds(in.U16());
    o.jitter = (in.U8() % 10) / 10.0;
  }
  return o;
}

[[noreturn]] void Die(const std::string& what, const std::vector<std::string>& trace) {
  std::fprintf(stderr, "fuzz_ops: %s\n  %s\n", what.c_str(),
               absl::StrJoin(trace, "\n  ").c_str());
  std::abort();
}

// Checks the option paths; returns whether the options are valid.
bool CheckOptions(const BreakerOptions& o) {
  const absl::Status s = o.validate();
  if (s.ok() != circuit::model::ModelValid(o)) {
    Die("validate() and the model disagree: " + s.ToString() + " for " +
            circuit::model::OptionsCpp(o),
        {});
  }
  if (!s.ok() && (s.code() != absl::StatusCode::kInvalidArgument || s.message().empty())) {
    Die("validate() failed without kInvalidArgument: " + s.ToString(), {});
  }
  circuit::SetOptions so;
  so.defaults = o;
  try {
    circuit::CircuitBreakerSet set(so);
    if (!s.ok()) Die("the set accepted bad options: " + s.ToString(), {});
  } catch (const std::invalid_argument& e) {
    if (s.ok()) Die(std::string("the set rejected good options: ") + e.what(), {});
    if (std::string(e.what()) != "defaults." + std::string(s.message())) {
      Die(std::string("constructor message differs from validate(): ") + e.what(), {});
    }
  }
  return s.ok();
}

constexpr std::int64_t kTimeLimit = std::int64_t{1} << 62;

std::int64_t DecodeStart(Bytes& in) {
  switch (in.U8() % 4) {
    case 0: return -static_cast<std::int64_t>(in.U64() % kTimeLimit);
    case 1: return static_cast<std::int64_t>(in.U64() % kTimeLimit);
    default: return 0;
  }
}

Op DecodeOp(Bytes& in, const Harness& h, int label) {
  Op op;
  op.label = label;
  op.kind = static_cast<Op::Kind>(in.U8() % Op::kKindCount);
  op.peer = in.U8() % circuit::model::kPeers;
  switch (op.kind) {
    case Op::kSucceed:
    case Op::kFail:
    case Op::kIgnore:
    case Op::kDrop:
    case Op::kFailWith: {
      std::vector<int> any = h.LiveLabels(/*unsettled_only=*/false);
      op.label = any.empty() ? -1 : any[in.U8() % any.size()];
      op.arg = in.U8();
      break;
    }
    case Op::kCall:
      op.arg = in.U8();
      break;
    case Op::kAdvance: {
      const std::uint8_t how = in.U8();
      std::vector<std::int64_t> edges = circuit::model::Edges(h.model());
      if (how < 96 && !edges.empty()) {
        op.ns = edges[how % edges.size()] + (how / 32) % 3 - 1;
      } else if (how < 250) {
        op.ns = static_cast<std::int64_t>(in.U32()) * (1 + how % 3 * 999);
      } else if (how < 254) {
        op.ns = static_cast<std::int64_t>(in.U64() % kTimeLimit);
      } else {
        op.ns = -static_cast<std::int64_t>(in.U32());  // the clock goes back
      }
      // Keep the clock within +/- 2^62 ns so the harness's own sums stay exact.
      const std::int64_t now = h.model().now();
      if (op.ns > 0 && now > kTimeLimit - op.ns) op.ns = 0;
      if (op.ns < 0 && now < -kTimeLimit - op.ns) op.ns = 0;
      break;
    }
    case Op::kConfigure:
      op.options = DecodeOptions(in);
      break;
    default:
      break;
  }
  return op;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bytes in(data, size);
  const BreakerOptions defaults = DecodeOptions(in);
  if (!CheckOptions(defaults)) return 0;
  const std::int64_t start = DecodeStart(in);
  Harness h(defaults, start);
  for (int label = 0; !in.empty() && label < 400; ++label) {
    Op op = DecodeOp(in, h, label);
    std::string err = h.Step(op);
    if (!err.empty()) Die(err, h.trace());
  }
  return 0;
}
