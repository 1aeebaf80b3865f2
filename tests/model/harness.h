// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: tests/model/harness.h
// -----------------------------------------------------------------------------
//
// The operation language shared by the model-based test (tests/model_test.cc)
// and the fuzzer (tests/fuzz/): a list of `Op`s that a `Harness` applies to a
// real `CircuitBreakerSet` on a `ManualClock` and to the `ReferenceModel` at
// once, comparing every decision, and after every step the state, snapshot
// and listener events of every peer. A mismatch comes back as a message; the
// harness also keeps the steps it ran as C++-like lines, so a shrunk failing
// sequence prints as a reproduction.
//
// No test framework here: the fuzzer links it without Boost.

#ifndef CIRCUIT_TESTS_MODEL_HARNESS_H_
#define CIRCUIT_TESTS_MODEL_HARNESS_H_

#include <algorithm>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/clock.h"
#include "circuit/context.h"
#include "circuit/errors.h"
#include "circuit/listener.h"
#include "circuit/options.h"
#include "circuit/state.h"
#include "reference_model.h"

namespace circuit::model {

inline constexpr int kPeers = 3;
inline const char* const kPeerNames[kPeers] = {"a", "b", "c"};

// An exception type the harness's sets register with `ignore_error()`.
struct IgnoredError {
  int code = 0;
};

// Op
//
// One step. Admissions carry a `label`; settles name the admission they
// settle by that label (a missing or removed admission makes them no-ops,
// which keeps shrunk sequences meaningful).
struct Op {
  enum Kind : std::uint8_t {
    kContext,        // set.context(peer)
    kTryContext,     // set.try_context(peer)
    kHandleContext,  // set.handle(peer).context()
    kSucceed,        // ctx.succeed()
    kFail,           // ctx.fail()
    kIgnore,         // ctx.ignore()
    kDrop,           // ctx's destructor (success; no-op once settled)
    kFailWith,       // ctx.fail(exception_ptr), `arg` picks the exception
    kCall,           // set.call(peer, fn ...), `arg` picks fn's result
    kAdvance,        // clock.advance(ns)
    kOpen,
    kClose,
    kHalfOpen,
    kForceOpen,
    kDisable,
    kConfigure,      // set.configure(peer, options)
    kKindCount,
  };
  Kind kind = kAdvance;
  int peer = 0;
  int label = -1;
  std::int64_t ns = 0;
  int arg = 0;
  BreakerOptions options;
};

// kFailWith arguments.
enum FailWith { kRuntimeError, kIgnoredError, kIntThrown, kNullPtr, kFailWithCount };

// kCall arguments: what fn does.
enum CallWith {
  kVoidOk,
  kThrowRuntime,
  kThrowIgnored,
  kThrowInt,
  kStatusUnavailable,
  kStatusNotFound,
  kStatusOrValue,
  kIntWithFallback,
  kCallWithCount,
};

inline std::string Sn(State s) { return std::string(state_name(s)); }

inline std::string Quote(int peer) {
  return absl::StrCat("\"", kPeerNames[peer], "\"");
}

inline std::string DurationCpp(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return "absl::InfiniteDuration()";
  if (d == -absl::InfiniteDuration()) return "-absl::InfiniteDuration()";
  std::int64_t ns = absl::ToInt64Nanoseconds(d);
  if (ns % 1000000000 == 0) return absl::StrCat("absl::Seconds(", ns / 1000000000, ")");
  if (ns % 1000000 == 0) return absl::StrCat("absl::Milliseconds(", ns / 1000000, ")");
  return absl::StrCat("absl::Nanoseconds(", ns, ")");
}

// The options as a designated initializer, non-default fields only.
inline std::string OptionsCpp(const BreakerOptions& o) {
  const BreakerOptions d;
  std::vector<std::string> f;
  // ".name = text(value)" unless `value` is the default (a NaN never is).
  auto field = [&f](const char* name, auto value, auto fallback, auto text) {
    if (!(value == fallback)) f.push_back(absl::StrCat(".", name, " = ", text(value)));
  };
  auto count = [](int v) { return absl::StrCat(v); };
  auto num = [](double v) { return absl::StrCat(v); };
  field("max_failures", o.max_failures, d.max_failures, [](int v) {
    return v == kUnlimited ? std::string("circuit::kUnlimited") : absl::StrCat(v);
  });
  field("time_unit", o.time_unit, d.time_unit, DurationCpp);
  field("reset_timeout", o.reset_timeout, d.reset_timeout, DurationCpp);
  field("half_open_max_calls", o.half_open_max_calls, d.half_open_max_calls, count);
  field("half_open_successes", o.half_open_successes, d.half_open_successes, count);
  field("consecutive_failures", o.consecutive_failures, d.consecutive_failures, count);
  field("failure_rate_threshold", o.failure_rate_threshold, d.failure_rate_threshold, num);
  field("minimum_calls", o.minimum_calls, d.minimum_calls, count);
  field("window_buckets", o.window_buckets, d.window_buckets, count);
  field("slow_call_duration", o.slow_call_duration, d.slow_call_duration, DurationCpp);
  field("slow_call_rate_threshold", o.slow_call_rate_threshold,
        d.slow_call_rate_threshold, num);
  field("backoff_multiplier", o.backoff_multiplier, d.backoff_multiplier, num);
  field("max_reset_timeout", o.max_reset_timeout, d.max_reset_timeout, DurationCpp);
  field("jitter", o.jitter, d.jitter, num);
  return absl::StrCat("{", absl::StrJoin(f, ", "), "}");
}

// Records (peer, from, to) of every state change, in order.
class ChangeLog : public Listener {
 public:
  void state_change(std::string_view peer, State from, State to) override {
    std::lock_guard<std::mutex> lock(mu_);
    changes_.emplace_back(std::string(peer), from, to);
  }
  std::vector<std::tuple<std::string, State, State>> changes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return changes_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::tuple<std::string, State, State>> changes_;
};

// Harness
//
// The real set and the model side by side. With comparison off the model is
// kept only for outcome counts (the fuzzer turns it off once options leave
// what the model covers, or the clock goes backwards); every other check is
// then an invariant that holds whatever the policy.
class Harness {
 public:
  // REQUIRES: `defaults.validate()` is OK.
  explicit Harness(const BreakerOptions& defaults, std::int64_t start_ns = 0)
      : clock_(absl::FromUnixNanos(start_ns)),
        model_(defaults, start_ns),
        compare_(Supports(defaults)) {
    SetOptions so;
    so.defaults = defaults;
    so.clock = &clock_;
    so.random_seed = 7;
    set_ = std::make_unique<CircuitBreakerSet>(so);
    set_->ignore_error<IgnoredError>();
    set_->add_listener(log_);
    trace_.push_back(absl::StrCat(
        "circuit::ManualClock clock(absl::FromUnixNanos(", start_ns, "));"));
    trace_.push_back(absl::StrCat(
        "circuit::CircuitBreakerSet set({.defaults = ", OptionsCpp(defaults),
        ", .clock = &clock});  // and set.ignore_error<IgnoredError>()"));
  }

  ~Harness() {
    live_.clear();  // contexts before handles before the set
    for (auto& h : handles_) h = PeerHandle();
  }

  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  const ReferenceModel& model() const { return model_; }
  bool comparing() const { return compare_; }
  const std::vector<std::string>& trace() const { return trace_; }

  // Labels of admissions whose contexts are alive (settled or not).
  std::vector<int> LiveLabels(bool unsettled_only) const {
    std::vector<int> out;
    for (const auto& [label, live] : live_) {
      if (!unsettled_only || !model_.call(live.call).settled) out.push_back(label);
    }
    return out;
  }

  // Harness::Step()
  //
  // Applies `op` to both sides; returns "" or what differed.
  std::string Step(const Op& op) {
    std::string err = Apply(op);
    if (err.empty()) err = Check();
    if (!err.empty()) trace_.push_back("// MISMATCH: " + err);
    return err;
  }

 private:
  struct Live {
    std::optional<Context> ctx;
    int call = -1;
  };

  static std::string Name(int peer) { return kPeerNames[peer]; }

  static std::string RetryText(std::int64_t ns) {
    return ns == kForever ? "forever" : absl::FormatDuration(absl::Nanoseconds(ns));
  }

  // Compares an admission's decision; keeps the context.
  std::string Admitted(const Op& op, std::optional<Context> ctx,
                       absl::Duration retry_after, bool have_retry) {
    AdmitResult m = model_.Admit(Name(op.peer));
    const std::string var = absl::StrCat("c", op.label);
    if (ctx.has_value()) {
      trace_.back() += absl::StrCat("  // admitted", ctx->probe() ? " (probe)" : "");
    } else if (have_retry) {
      trace_.back() += absl::StrCat("  // rejected, retry_after ",
                                    absl::FormatDuration(retry_after));
    } else {
      trace_.back() += "  // rejected";
    }
    if (!compare_) {
      // Invariants only; keep the outcome counts of both sides aligned.
      if (ctx.has_value() && m.admitted) {
        live_[op.label] = Live{std::move(ctx), m.call};
      } else if (ctx.has_value()) {
        ctx->ignore();
        ++unmodelled_[op.peer][2];
      } else if (m.admitted) {
        model_.Settle(m.call, Outcome::kIgnored);
        --unmodelled_[op.peer][2];
      }
      return "";
    }
    if (ctx.has_value() != m.admitted) {
      return absl::StrCat(var, ": real ", ctx.has_value() ? "admitted" : "rejected",
                          ", model ", m.admitted ? "admitted" : "rejected");
    }
    if (m.admitted) {
      if (ctx->probe() != m.probe) {
        return absl::StrCat(var, ": real probe=", ctx->probe(),
                            ", model probe=", m.probe);
      }
      if (ctx->peer() != Name(op.peer)) return var + ": wrong peer() on the context";
      live_[op.label] = Live{std::move(ctx), m.call};
      return "";
    }
    if (have_retry) {
      absl::Duration want = m.retry_after == kForever
                                ? absl::InfiniteDuration()
                                : absl::Nanoseconds(m.retry_after);
      if (retry_after != want) {
        return absl::StrCat(var, ": retry_after real ",
                            absl::FormatDuration(retry_after), ", model ",
                            RetryText(m.retry_after));
      }
    }
    return "";
  }

  std::string Apply(const Op& op) {
    const std::string peer = Name(op.peer);
    const std::string var = absl::StrCat("c", op.label);
    switch (op.kind) {
      case Op::kContext: {
        trace_.push_back(
            absl::StrCat("auto ", var, " = set.context(", Quote(op.peer), ");"));
        std::optional<Context> ctx;
        try {
          ctx.emplace(set_->context(peer));
        } catch (const CircuitOpenError& e) {
          if (e.peer() != peer) return var + ": CircuitOpenError names another peer";
          return Admitted(op, std::nullopt, e.retry_after(), true);
        }
        return Admitted(op, std::move(ctx), absl::ZeroDuration(), false);
      }
      case Op::kTryContext: {
        trace_.push_back(
            absl::StrCat("auto ", var, " = set.try_context(", Quote(op.peer), ");"));
        absl::StatusOr<Context> r = set_->try_context(peer);
        if (r.ok()) return Admitted(op, *std::move(r), absl::ZeroDuration(), false);
        if (!absl::IsUnavailable(r.status()) ||
            r.status().message().find(peer) == absl::string_view::npos) {
          return var + ": rejection status is " + r.status().ToString();
        }
        return Admitted(op, std::nullopt, absl::ZeroDuration(), false);
      }
      case Op::kHandleContext: {
        trace_.push_back(absl::StrCat("auto ", var, " = set.handle(", Quote(op.peer),
                                      ").context();"));
        PeerHandle& h = handles_[op.peer];
        if (!h) h = set_->handle(peer);
        if (h.peer() != peer) return "handle.peer() is wrong";
        std::optional<Context> ctx;
        try {
          ctx.emplace(h.context());
        } catch (const CircuitOpenError& e) {
          return Admitted(op, std::nullopt, e.retry_after(), true);
        }
        return Admitted(op, std::move(ctx), absl::ZeroDuration(), false);
      }
      case Op::kSucceed:
      case Op::kFail:
      case Op::kIgnore:
      case Op::kDrop:
      case Op::kFailWith:
        return Settle(op);
      case Op::kCall:
        return Call(op);
      case Op::kAdvance: {
        trace_.push_back(absl::StrCat("clock.advance(absl::Nanoseconds(", op.ns,
                                      "));  // ",
                                      absl::FormatDuration(absl::Nanoseconds(op.ns))));
        if (op.ns < 0) compare_ = false;  // the model assumes time moves forward
        clock_.advance(absl::Nanoseconds(op.ns));
        model_.Advance(op.ns);
        return "";
      }
      case Op::kOpen:
        return Control(op, "open", &CircuitBreakerSet::open, &ReferenceModel::Open);
      case Op::kClose:
        return Control(op, "close", &CircuitBreakerSet::close, &ReferenceModel::Close);
      case Op::kHalfOpen:
        return Control(op, "half_open", &CircuitBreakerSet::half_open,
                       &ReferenceModel::HalfOpen);
      case Op::kForceOpen:
        return Control(op, "force_open", &CircuitBreakerSet::force_open,
                       &ReferenceModel::ForceOpen);
      case Op::kDisable:
        return Control(op, "disable", &CircuitBreakerSet::disable,
                       &ReferenceModel::Disable);
      case Op::kConfigure:
        return Configure(op);
      case Op::kKindCount:
        break;
    }
    return "unknown op";
  }

  // A manual control, `name` in the trace, applied to the set and the model.
  std::string Control(const Op& op, const char* name,
                      void (CircuitBreakerSet::*real)(std::string_view),
                      void (ReferenceModel::*modelled)(const std::string&)) {
    const std::string peer = Name(op.peer);
    trace_.push_back(absl::StrCat("set.", name, "(", Quote(op.peer), ");"));
    (set_.get()->*real)(peer);
    (model_.*modelled)(peer);
    return "";
  }

  // A call to `peer` whose function sets `ran` and throws `thrown`; returns
  // what is wrong with what reached the caller ("" when it was `thrown`
  // itself, as `same` tells, or a rejection before the function ran).
  template <class E, class Same>
  std::string ThrowThrough(const std::string& peer, bool& ran, E thrown, Same same) {
    try {
      set_->call(peer, [&] {
        ran = true;
        throw thrown;
      });
      return "call() swallowed the exception";
    } catch (const CircuitOpenError&) {
      if (ran) return "call() turned fn's exception into CircuitOpenError";
    } catch (const E& e) {
      if (!same(e)) return "call() changed the exception";
    }
    return "";
  }

  std::string Settle(const Op& op) {
    const std::string var = absl::StrCat("c", op.label);
    auto it = live_.find(op.label);
    if (it == live_.end()) return "";  // never admitted, or dropped
    Live& live = it->second;
    const int call = live.call;
    Outcome outcome = Outcome::kSuccess;
    switch (op.kind) {
      case Op::kSucceed:
        trace_.push_back(var + ".succeed();");
        live.ctx->succeed();
        break;
      case Op::kFail:
        trace_.push_back(var + ".fail();");
        live.ctx->fail();
        outcome = Outcome::kFailure;
        break;
      case Op::kIgnore:
        trace_.push_back(var + ".ignore();");
        live.ctx->ignore();
        outcome = Outcome::kIgnored;
        break;
      case Op::kDrop:
        trace_.push_back(
            absl::StrCat("{ auto gone = std::move(", var, "); }  // destructor"));
        live_.erase(it);  // the destructor records a success if unsettled
        break;
      default: {
        std::exception_ptr e;
        switch (op.arg % kFailWithCount) {
          case kRuntimeError:
            trace_.push_back(
                var + ".fail(std::make_exception_ptr(std::runtime_error(\"x\")));");
            e = std::make_exception_ptr(std::runtime_error("x"));
            outcome = Outcome::kFailure;
            break;
          case kIgnoredError:
            trace_.push_back(var + ".fail(std::make_exception_ptr(IgnoredError{}));");
            e = std::make_exception_ptr(IgnoredError{});
            outcome = Outcome::kIgnored;
            break;
          case kIntThrown:
            trace_.push_back(var + ".fail(std::make_exception_ptr(42));");
            e = std::make_exception_ptr(42);
            outcome = Outcome::kFailure;
            break;
          default:
            trace_.push_back(var + ".fail(std::exception_ptr());");
            outcome = Outcome::kFailure;
            break;
        }
        live.ctx->fail(e);
        break;
      }
    }
    model_.Settle(call, outcome);
    return "";
  }

  // set.call() with every kind of result; checks the result passes through.
  std::string Call(const Op& op) {
    const std::string peer = Name(op.peer);
    const int what = op.arg % kCallWithCount;
    static const char* const kText[] = {
        "set.call(P, [] {})",
        "set.call(P, [] { throw std::runtime_error(\"boom\"); })",
        "set.call(P, [] { throw IgnoredError{}; })",
        "set.call(P, [] { throw 42; })",
        "set.call(P, [] { return absl::UnavailableError(\"down\"); })",
        "set.call(P, [] { return absl::NotFoundError(\"nope\"); })",
        "set.call(P, [] { return absl::StatusOr<int>(7); })",
        "set.call(P, [] { return 1; }, [] { return 2; })",
    };
    std::string text = kText[what];
    text.replace(text.find('P'), 1, Quote(op.peer));
    trace_.push_back(text + ";");

    bool ran = false;  // fn ran: the call was admitted
    Outcome outcome = Outcome::kSuccess;
    std::string err;
    switch (what) {
      case kVoidOk:
        try {
          set_->call(peer, [&] { ran = true; });
        } catch (const CircuitOpenError&) {
        }
        break;
      case kThrowRuntime:
        outcome = Outcome::kFailure;
        err = ThrowThrough(peer, ran, std::runtime_error("boom"),
                           [](const std::runtime_error& e) {
                             return std::string_view(e.what()) == "boom";
                           });
        break;
      case kThrowIgnored:
        outcome = Outcome::kIgnored;
        err = ThrowThrough(peer, ran, IgnoredError{5},
                           [](const IgnoredError& e) { return e.code == 5; });
        break;
      case kThrowInt:
        outcome = Outcome::kFailure;
        err = ThrowThrough(peer, ran, 42, [](int v) { return v == 42; });
        break;
      case kStatusUnavailable: {
        outcome = Outcome::kFailure;
        absl::Status s = set_->call(peer, [&] {
          ran = true;
          return absl::UnavailableError("down");
        });
        if (!ran) {
          if (!absl::IsUnavailable(s) || s.message() == "down") {
            err = "bad rejection status " + s.ToString();
          }
        } else if (!absl::IsUnavailable(s) || s.message() != "down") {
          err = "call() changed the status: " + s.ToString();
        }
        break;
      }
      case kStatusNotFound: {
        absl::Status s = set_->call(peer, [&] {
          ran = true;
          return absl::NotFoundError("nope");
        });
        if (!ran) {
          if (!absl::IsUnavailable(s)) err = "bad rejection status " + s.ToString();
        } else if (!absl::IsNotFound(s)) {
          err = "call() changed the status: " + s.ToString();
        }
        break;
      }
      case kStatusOrValue: {
        absl::StatusOr<int> r = set_->call(peer, [&] {
          ran = true;
          return absl::StatusOr<int>(7);
        });
        if (!ran) {
          if (!absl::IsUnavailable(r.status())) err = "bad rejection status";
        } else if (!r.ok() || *r != 7) {
          err = "call() changed the value";
        }
        break;
      }
      default: {
        int r = set_->call(
            peer,
            [&] {
              ran = true;
              return 1;
            },
            [] { return 2; });
        if (r != (ran ? 1 : 2)) err = "call() with a fallback returned the wrong value";
        break;
      }
    }
    if (!err.empty()) return err;
    trace_.back() += ran ? "  // ran" : "  // rejected";
    AdmitResult m = model_.Admit(peer);
    if (m.admitted) model_.Settle(m.call, outcome);
    if (!compare_) {
      // Keep outcome counts aligned when the two sides disagree.
      if (ran && !m.admitted) {
        ++unmodelled_[op.peer][static_cast<int>(outcome)];
      } else if (!ran && m.admitted) {
        --unmodelled_[op.peer][static_cast<int>(outcome)];
      }
      return "";
    }
    if (ran != m.admitted) {
      return absl::StrCat("call(): real ", ran ? "admitted" : "rejected", ", model ",
                          m.admitted ? "admitted" : "rejected");
    }
    return "";
  }

  std::string Configure(const Op& op) {
    trace_.push_back(absl::StrCat("set.configure(", Quote(op.peer), ", ",
                                  OptionsCpp(op.options), ");"));
    const absl::Status valid = op.options.validate();
    if (valid.ok() != ModelValid(op.options)) {
      return absl::StrCat("validate() says ", valid.ToString(),
                          "; the model's reading of options.h says the opposite");
    }
    bool accepted = true;
    std::string message;
    try {
      set_->configure(Name(op.peer), op.options);
    } catch (const std::invalid_argument& e) {
      accepted = false;
      message = e.what();
    }
    if (accepted != valid.ok()) return "configure() and validate() disagree";
    if (!accepted) {
      trace_.back() += "  // throws std::invalid_argument";
      if (message.empty() || message != valid.message()) {
        return "configure() threw a message other than validate()'s: " + message;
      }
      return "";
    }
    if (!Supports(op.options)) compare_ = false;
    model_.Configure(Name(op.peer), op.options);
    return "";
  }

  // Harness::Check()
  //
  // Everything observable about every peer, against the model.
  std::string Check() {
    for (int i = 0; i < kPeers; ++i) {
      const std::string peer = Name(i);
      const State real = set_->state(peer);
      if (handles_[i] && handles_[i].state() != real) {
        return absl::StrCat("handle(", peer, ").state() differs from state()");
      }
      std::optional<PeerSnapshot> snap = set_->snapshot(peer);
      const PeerModel* m = model_.Find(peer);
      if (snap.has_value() != (m != nullptr)) {
        return absl::StrCat("snapshot(", peer, ") ", snap ? "exists" : "is missing",
                            ", the model ", m ? "has the peer" : "has no such peer");
      }
      if (!snap) continue;
      if (snap->state != real) {
        return absl::StrCat("snapshot(", peer, ").state ", Sn(snap->state),
                            " but state() ", Sn(real));
      }
      // (A configure() that lowers half_open_max_calls may leave more probes
      // in flight than the new limit; the model comparison below is exact.)
      if (snap->probes_in_flight < 0 || snap->probes_in_flight > 65535) {
        return absl::StrCat(peer, ": ", snap->probes_in_flight, " probes in flight");
      }
      if (snap->calls != snap->successes + snap->failures + snap->ignored) {
        return absl::StrCat(peer, ": calls != successes + failures + ignored");
      }
      const std::int64_t* u = unmodelled_[i];
      if (static_cast<std::int64_t>(snap->successes) !=
              static_cast<std::int64_t>(m->successes) + u[0] ||
          static_cast<std::int64_t>(snap->failures) !=
              static_cast<std::int64_t>(m->failures) + u[1] ||
          static_cast<std::int64_t>(snap->ignored) !=
              static_cast<std::int64_t>(m->ignored) + u[2]) {
        return absl::StrCat(peer, ": counts (successes, failures, ignored) real (",
                            snap->successes, ", ", snap->failures, ", ", snap->ignored,
                            "), model (", m->successes, ", ", m->failures, ", ",
                            m->ignored, ")");
      }
      if (!compare_) continue;
      const State want = model_.StateOf(peer);
      if (real != want) {
        return absl::StrCat("state(\"", peer, "\") is ", Sn(real),
                            ", the model says ", Sn(want));
      }
      if (snap->rejections != m->rejections) {
        return absl::StrCat(peer, ": rejections real ", snap->rejections, ", model ",
                            m->rejections);
      }
      const int probes = model_.ProbesInFlight(peer);
      if (snap->probes_in_flight != probes) {
        return absl::StrCat(peer, ": probes in flight real ", snap->probes_in_flight,
                            ", model ", probes);
      }
      if (want == State::kClosed) {
        if (snap->failures_in_window != model_.FailuresInWindow(peer)) {
          return absl::StrCat(peer, ": failures_in_window real ",
                              snap->failures_in_window, ", model ",
                              model_.FailuresInWindow(peer));
        }
        if (snap->consecutive_failures != m->run) {
          return absl::StrCat(peer, ": consecutive_failures real ",
                              snap->consecutive_failures, ", model ", m->run);
        }
      }
      if (m->state == State::kOpen &&
          snap->open_until != absl::FromUnixNanos(m->open_until)) {
        return absl::StrCat(peer, ": open_until real ",
                            absl::FormatTime(snap->open_until), ", model ",
                            absl::FormatTime(absl::FromUnixNanos(m->open_until)));
      }
    }
    auto real = log_->changes();
    if (compare_) {
      const auto& want = model_.changes();
      auto text = [](const std::vector<std::tuple<std::string, State, State>>& v,
                     std::size_t k) {
        if (k >= v.size()) return std::string("nothing");
        return absl::StrCat(std::get<0>(v[k]), " ", Sn(std::get<1>(v[k])),
                            "->", Sn(std::get<2>(v[k])));
      };
      // The model's list and the listener's line up from the start until the
      // first time comparison was turned off.
      for (std::size_t k = checked_changes_; k < std::max(real.size(), want.size());
           ++k) {
        if (text(real, k) != text(want, k)) {
          return absl::StrCat("state change #", k, ": listener heard ",
                              text(real, k), ", the model says ", text(want, k));
        }
      }
    }
    checked_changes_ = real.size();
    return "";
  }

  // Declaration order is destruction order reversed: contexts go first.
  ManualClock clock_;
  std::shared_ptr<ChangeLog> log_ = std::make_shared<ChangeLog>();
  std::unique_ptr<CircuitBreakerSet> set_;
  PeerHandle handles_[kPeers];
  std::map<int, Live> live_;
  ReferenceModel model_;
  bool compare_;
  std::size_t checked_changes_ = 0;
  // Only while not comparing: outcomes the model did not see (+) or saw
  // without the real set (-), per peer and outcome (success, failure,
  // ignored).
  std::int64_t unmodelled_[kPeers][3] = {};
  std::vector<std::string> trace_;
};

// -----------------------------------------------------------------------------
// Running, shrinking and printing a sequence

struct Scenario {
  BreakerOptions defaults;
  std::int64_t start_ns = 0;
  std::vector<Op> ops;
};

// Runs `s` from scratch; returns the first mismatch ("" if none) and, when
// `trace` is given, the steps as C++-like lines.
inline std::string Replay(const Scenario& s, std::vector<std::string>* trace = nullptr) {
  Harness h(s.defaults, s.start_ns);
  std::string err;
  for (const Op& op : s.ops) {
    err = h.Step(op);
    if (!err.empty()) break;
  }
  if (trace != nullptr) *trace = h.trace();
  return err;
}

// Shrink()
//
// Removes chunks of ops (halving the chunk size down to one op) as long as
// the sequence still fails. Returns the smaller failing scenario.
inline Scenario Shrink(Scenario s) {
  for (std::size_t chunk = std::max<std::size_t>(1, s.ops.size() / 2);;
       chunk /= 2) {
    for (std::size_t i = 0; i < s.ops.size();) {
      Scenario t = s;
      t.ops.erase(t.ops.begin() + static_cast<long>(i),
                  t.ops.begin() + static_cast<long>(std::min(i + chunk, t.ops.size())));
      if (!Replay(t).empty()) {
        s = std::move(t);
      } else {
        i += chunk;
      }
    }
    if (chunk == 1) break;
  }
  return s;
}

// The reproduction of a failing scenario, one C++-like line per step.
inline std::string Reproduction(const Scenario& s) {
  std::vector<std::string> trace;
  Replay(s, &trace);
  return absl::StrCat("  ", absl::StrJoin(trace, "\n  "), "\n");
}

// Edges()
//
// How far the clock must move to reach each edge of the model's state: an
// open period's end, or a failure leaving its window.
inline std::vector<std::int64_t> Edges(const ReferenceModel& m) {
  std::vector<std::int64_t> edges;
  for (int i = 0; i < kPeers; ++i) {
    const PeerModel* p = m.Find(kPeerNames[i]);
    if (p == nullptr) continue;
    if (p->state == State::kOpen && p->open_until >= m.now()) {
      edges.push_back(SatSub(p->open_until, m.now()));
    }
    for (std::int64_t f : p->failure_times) {
      std::int64_t leaves = SatAdd(f, Ns(p->options.time_unit));
      if (leaves >= m.now()) edges.push_back(SatSub(leaves, m.now()));
    }
  }
  return edges;
}

// -----------------------------------------------------------------------------
// Random generation (the model test)

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t Below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return static_cast<int>(Below(100)) < percent; }
  template <class T, std::size_t N>
  T Pick(const T (&items)[N]) {
    return items[Below(N)];
  }

  // A valid option set inside what the model covers.
  BreakerOptions Options() {
    BreakerOptions o;
    const int max_failures[] = {0, 1, 2, 3, 3, 5, kUnlimited};
    o.max_failures = Pick(max_failures);
    const absl::Duration units[] = {absl::Seconds(1), absl::Seconds(3),
                                    absl::Seconds(10), absl::Seconds(60),
                                    absl::Milliseconds(1500)};
    o.time_unit = Pick(units);
    if (Chance(20)) o.time_unit += absl::Nanoseconds(Below(1000) + 1);
    const absl::Duration resets[] = {absl::ZeroDuration(), absl::Milliseconds(500),
                                     absl::Seconds(1), absl::Seconds(5),
                                     absl::Seconds(10)};
    o.reset_timeout = Pick(resets);
    if (Chance(20)) o.reset_timeout += absl::Nanoseconds(Below(1000) + 1);
    if (Chance(3)) {
      // Past 2^53 ns (~104 days): exact only in integer arithmetic.
      o.reset_timeout = absl::Nanoseconds((std::int64_t{1} << 53) + 1 + Below(1000));
    }
    o.half_open_max_calls = static_cast<int>(1 + Below(3));
    o.half_open_successes = static_cast<int>(1 + Below(3));
    const int consecutive[] = {0, 0, 0, 1, 2, 3};
    o.consecutive_failures = Pick(consecutive);
    return o;
  }

  // Breaks one field of a valid set (each such value must be rejected).
  BreakerOptions BadOptions() {
    BreakerOptions o = Options();
    switch (Below(16)) {
      case 0: o.max_failures = -1; break;
      case 1: o.time_unit = absl::ZeroDuration(); break;
      case 2: o.time_unit = -absl::Seconds(1); break;
      case 3: o.reset_timeout = -absl::Nanoseconds(1); break;
      case 4: o.half_open_max_calls = 0; break;
      case 5: o.half_open_max_calls = 65536; break;
      case 6: o.half_open_successes = 0; break;
      case 7: o.consecutive_failures = -2; break;
      case 8: o.failure_rate_threshold = 1.5; break;
      case 9: o.minimum_calls = 0; break;
      case 10: o.window_buckets = 1001; break;
      case 11: o.slow_call_duration = -absl::Seconds(1); break;
      case 12: o.slow_call_rate_threshold = 0.5; break;  // without a duration
      case 13: o.backoff_multiplier = 0.5; break;
      case 14: o.max_reset_timeout = o.reset_timeout - absl::Nanoseconds(1); break;
      default: o.jitter = 1; break;
    }
    return o;
  }

  // An advance: often to an exact edge of the model's state (a deadline or
  // the moment a failure leaves its window), or one nanosecond either side.
  std::int64_t Advance(const Harness& h) {
    std::vector<std::int64_t> edges = Edges(h.model());
    if (!edges.empty() && Chance(50)) {
      std::int64_t e = edges[Below(edges.size())];
      const std::int64_t nudge[] = {-1, 0, 0, 1};
      return std::max<std::int64_t>(0, e + Pick(nudge));
    }
    switch (Below(4)) {
      case 0:
        return static_cast<std::int64_t>(Below(1000) + 1);  // ns
      case 1:
        return static_cast<std::int64_t>(Below(1000) + 1) * 1000000;  // ms
      case 2:
        return static_cast<std::int64_t>(Below(5) + 1) * 1000000000;  // s
      default:
        return static_cast<std::int64_t>(Below(70000)) * 1000000;
    }
  }

  Op Next(const Harness& h, int label) {
    Op op;
    op.label = label;
    const int peers[] = {0, 0, 0, 1, 1, 2};
    op.peer = Pick(peers);
    const std::uint64_t r = Below(100);
    std::vector<int> live = h.LiveLabels(/*unsettled_only=*/true);
    std::vector<int> any = h.LiveLabels(/*unsettled_only=*/false);
    if (r < 14) {
      op.kind = Op::kContext;
    } else if (r < 20) {
      op.kind = Op::kTryContext;
    } else if (r < 25) {
      op.kind = Op::kHandleContext;
    } else if (r < 52 && !any.empty()) {
      const Op::Kind settles[] = {Op::kSucceed, Op::kSucceed, Op::kFail,
                                  Op::kFail,    Op::kFail,    Op::kIgnore,
                                  Op::kDrop,    Op::kFailWith};
      op.kind = Pick(settles);
      op.label = !live.empty() && Chance(90) ? live[Below(live.size())]
                                             : any[Below(any.size())];
      op.arg = static_cast<int>(Below(kFailWithCount));
    } else if (r < 62) {
      op.kind = Op::kCall;
      op.arg = static_cast<int>(Below(kCallWithCount));
    } else if (r < 88) {
      op.kind = Op::kAdvance;
      op.ns = Advance(h);
    } else if (r < 97) {
      const Op::Kind manual[] = {Op::kOpen,     Op::kClose,     Op::kClose,
                                 Op::kHalfOpen, Op::kForceOpen, Op::kDisable};
      op.kind = Pick(manual);
    } else {
      op.kind = Op::kConfigure;
      op.options = Chance(20) ? BadOptions() : Options();
    }
    return op;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace circuit::model

#endif  // CIRCUIT_TESTS_MODEL_HARNESS_H_
