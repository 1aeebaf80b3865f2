// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: asio.h
// -----------------------------------------------------------------------------
//
// Boost.Asio helpers (header-only; built and installed when the Meson feature
// option `asio` finds Boost). The core library never includes Asio; this
// header is the adapter at the edge.
//
//   - `circuit::asio::guarded(set, peer, op())` runs a
//     `boost::asio::awaitable<T>` under `peer`'s breaker: `co_await` it.
//   - `circuit::asio::settle(ctx, ec)` settles a `Context` from a completion
//     handler's error code (a context may be moved into the handler and
//     settled on whichever thread runs it).
//   - `circuit::asio::ErrorPolicy` says which error codes count as failures.
//   - Pools pick a peer with `CircuitBreakerSet::would_admit()` /
//     `first_admitting()` (breaker_set.h) and run the request with
//     `guarded(std::move(pick->context), op())`.
//
// What counts as a failure
// ------------------------
//   - Exceptions thrown by the operation are classified exactly as
//     `CircuitBreakerSet::call()` does (`ctx.fail(std::current_exception())`:
//     the set's `handle_error()` / `ignore_error()` types) and rethrown
//     unchanged. Note that `use_awaitable` throws
//     `boost::system::system_error` for a failed operation, so with no
//     handled types every such error counts, `operation_aborted` included;
//     `ErrorPolicy::classify_system_errors()` classifies those exceptions by
//     their code instead.
//   - An error-code result is classified by the `ErrorPolicy`: a result that
//     is `boost::system::error_code` or `std::error_code`, or a `std::tuple`
//     / `std::pair` whose FIRST element is one (the shape `as_tuple` and
//     hand-written `(ec, n)` results have). A zero code is a success. Any
//     other result is a success.
//   - `ErrorPolicy`'s defaults (by errno value, so the `boost::asio::error`,
//     `boost::system::errc` and `std::errc` spellings all match):
//       failures: connection_refused, connection_reset, connection_aborted,
//         timed_out, host_unreachable, network_unreachable, network_down,
//         network_reset, broken_pipe, and `boost::asio::error::eof` (the
//         peer hung up before answering: for a guarded request that is the
//         peer's fault; an operation that reads to the end of a stream as
//         its normal end should not return `eof`, or `succeed_on(eof)`);
//       ignored (neither success nor failure; a probe slot is given back):
//         operation_aborted / `std::errc::operation_canceled` (cancellation
//         is the caller's decision, and Asio reports it for every pending
//         operation at shutdown) and `errc::circuit_open` (a nested
//         rejection);
//       every other code: a success (the caller's own mistakes, such as
//         invalid_argument or message_size; change with `otherwise()`).
//   - Timeouts: Boost 1.74 has no per-operation cancellation, so a timeout
//     is usually a timer that cancels or closes the socket, and the
//     operation then reports operation_aborted, which is ignored. Report a
//     timeout as `boost::asio::error::timed_out` from the operation (see
//     examples/asio_pool.cc), or `fail_on(operation_aborted)`.
//
// Rejection
// ---------
// As with `call()` and status results: when the operation's result carries
// an error code (above) and is default-constructible, a refusal is
// returned as that result with the code `circuit::asio::errc::circuit_open`
// (test it with `circuit::asio::is_circuit_open(ec)`), or
// `errc::concurrency_limit` when the peer's bulkhead is full
// (`is_concurrency_limited(ec)`), and the other elements value-initialised;
// otherwise the refusal's `RejectedError` (`CircuitOpenError` with `peer()`
// and `retry_after()`, or `ConcurrencyLimitError`) is thrown into the
// coroutine.
// `ErrorPolicy::throw_on_rejection()` makes every rejection throw. A bad
// peer id throws `std::invalid_argument` either way. The operation is not
// started when rejected.
//
// An awaitable that is destroyed before it completes (its io_context was
// destroyed, say) records its call as ignored.
//
// Thread safety: an `ErrorPolicy` is an immutable-after-setup value (copies
// share their rules); configure it before sharing it between threads.
// REQUIRES: every guarded awaitable completes or is destroyed before the set.
//
// Example:
//
//   #include <utility>  // before any Boost.Asio header (g++ 12, Boost 1.74)
//   #include <boost/asio.hpp>
//   #include "circuit/asio.h"
//
//   boost::asio::awaitable<std::tuple<boost::system::error_code, size_t>>
//   echo(tcp::endpoint ep, std::string msg);  // returns {ec, bytes}
//
//   auto [ec, n] = co_await circuit::asio::guarded(set, peer, echo(ep, msg));
//   if (circuit::asio::is_circuit_open(ec)) { /* not attempted */ }
//
//   // A completion handler:
//   sock.async_connect(ep, [ctx = set.context(peer)](auto ec) mutable {
//     circuit::asio::settle(ctx, ec);
//   });

#ifndef CIRCUIT_ASIO_H_
#define CIRCUIT_ASIO_H_

// clang-format off
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>: include it before any Boost.Asio header (DESIGN.md section 4).
#include <utility>
// clang-format on

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "circuit/breaker_set.h"
#include "circuit/context.h"
#include "circuit/errors.h"

namespace circuit::asio {

// -----------------------------------------------------------------------------
// Error codes of the adapter

// errc
//
// `circuit_open`: the call was not attempted because the peer's breaker
// rejected it (the error-code form of `CircuitOpenError`).
// `concurrency_limit`: the call was not attempted because the peer's
// bulkhead was full (the error-code form of `ConcurrencyLimitError`).
enum class errc { circuit_open = 1, concurrency_limit = 2 };

namespace internal {

inline std::string Message(int ev) {
  switch (static_cast<errc>(ev)) {
    case errc::circuit_open:
      return "circuit open";
    case errc::concurrency_limit:
      return "concurrency limit reached";
  }
  return "unknown circuit error";
}

// Boost's category base has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class BoostCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "circuit"; }
  std::string message(int ev) const override { return Message(ev); }
};
#pragma GCC diagnostic pop

class StdCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "circuit"; }
  std::string message(int ev) const override { return Message(ev); }
};

}  // namespace internal

// The "circuit" error categories (Boost.System and std).
inline const boost::system::error_category& boost_category() noexcept {
  static const internal::BoostCategory category;
  return category;
}
inline const std::error_category& std_category() noexcept {
  static const internal::StdCategory category;
  return category;
}

// make_error_code()
//
// `boost::system::error_code ec = circuit::asio::errc::circuit_open;` works
// through this (found by ADL); for `std::error_code` use
// `make_std_error_code()`.
inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), boost_category()};
}
inline std::error_code make_std_error_code(errc e) noexcept {
  return {static_cast<int>(e), std_category()};
}

// is_circuit_open()
//
// Whether `ec` is the rejection code.
inline bool is_circuit_open(const boost::system::error_code& ec) noexcept {
  return ec == make_error_code(errc::circuit_open);
}
inline bool is_circuit_open(const std::error_code& ec) noexcept {
  return ec == make_std_error_code(errc::circuit_open);
}

// is_concurrency_limited()
//
// Whether `ec` is the code of a full bulkhead.
inline bool is_concurrency_limited(const boost::system::error_code& ec) noexcept {
  return ec == make_error_code(errc::concurrency_limit);
}
inline bool is_concurrency_limited(const std::error_code& ec) noexcept {
  return ec == make_std_error_code(errc::concurrency_limit);
}

}  // namespace circuit::asio

template <>
struct boost::system::is_error_code_enum<circuit::asio::errc> : std::true_type {
};

namespace circuit::asio {

// -----------------------------------------------------------------------------
// ErrorPolicy

// Verdict
//
// How an outcome is recorded: `kSuccess`, `kFailure` (counted), or
// `kIgnore` (neither; a half-open probe slot is given back).
enum class Verdict : unsigned char { kSuccess, kFailure, kIgnore };

// ErrorPolicy
//
// Which error codes count as failures (see the file comment for the
// defaults), plus two switches. A cheap value: copies share their rules,
// and a setter on a shared copy copies them first. Codes of the system and
// generic categories (Boost or std) match by errno value; others by
// category and value.
//
//   auto policy = circuit::asio::ErrorPolicy()
//                     .fail_on(boost::asio::error::operation_aborted)
//                     .succeed_on(boost::asio::error::eof);
class ErrorPolicy {
 public:
  // The defaults.
  ErrorPolicy() : rules_(Defaults()) {}

  // ErrorPolicy::none()
  //
  // No code listed: every non-zero code reads `otherwise()` (a success).
  static ErrorPolicy none() {
    ErrorPolicy p;
    p.rules_ = std::make_shared<Rules>();
    return p;
  }

  // Counts `ec` as a failure / ignores it / counts it as a success.
  ErrorPolicy& fail_on(const boost::system::error_code& ec) {
    return set(KeyOf(ec), Verdict::kFailure);
  }
  ErrorPolicy& fail_on(const std::error_code& ec) {
    return set(KeyOf(ec), Verdict::kFailure);
  }
  ErrorPolicy& ignore(const boost::system::error_code& ec) {
    return set(KeyOf(ec), Verdict::kIgnore);
  }
  ErrorPolicy& ignore(const std::error_code& ec) {
    return set(KeyOf(ec), Verdict::kIgnore);
  }
  ErrorPolicy& succeed_on(const boost::system::error_code& ec) {
    return set(KeyOf(ec), Verdict::kSuccess);
  }
  ErrorPolicy& succeed_on(const std::error_code& ec) {
    return set(KeyOf(ec), Verdict::kSuccess);
  }

  // ErrorPolicy::otherwise()
  //
  // The verdict for non-zero codes not listed. Default: `kSuccess`.
  ErrorPolicy& otherwise(Verdict v) {
    mutable_rules().otherwise = v;
    return *this;
  }

  // ErrorPolicy::classify_system_errors()
  //
  // When on, a `boost::system::system_error` or `std::system_error` thrown by
  // a guarded operation is classified by its code with this policy instead
  // of by the set's exception types (other exceptions still are). Default:
  // off, as `call()`.
  ErrorPolicy& classify_system_errors(bool on = true) {
    mutable_rules().system_errors = on;
    return *this;
  }

  // ErrorPolicy::throw_on_rejection()
  //
  // When on, every refusal throws its `RejectedError`, even for error-code
  // results. Default: off.
  ErrorPolicy& throw_on_rejection(bool on = true) {
    mutable_rules().throw_on_rejection = on;
    return *this;
  }

  // ErrorPolicy::classify()
  //
  // The verdict for `ec`: a zero code is a success.
  Verdict classify(const boost::system::error_code& ec) const noexcept {
    if (!ec) return Verdict::kSuccess;
    return Lookup(KeyOf(ec));
  }
  Verdict classify(const std::error_code& ec) const noexcept {
    if (!ec) return Verdict::kSuccess;
    return Lookup(KeyOf(ec));
  }

  bool classifies_system_errors() const noexcept {
    return rules_->system_errors;
  }
  bool throws_on_rejection() const noexcept {
    return rules_->throw_on_rejection;
  }

 private:
  // A code, normalised: both null for the system and generic categories
  // (matched by errno value), else the category it belongs to.
  struct Key {
    int value = 0;
    const boost::system::error_category* boost_cat = nullptr;
    const std::error_category* std_cat = nullptr;

    bool operator==(const Key& o) const noexcept {
      if (value != o.value) return false;
      if (boost_cat != nullptr || o.boost_cat != nullptr) {
        return boost_cat != nullptr && o.boost_cat != nullptr &&
               *boost_cat == *o.boost_cat;
      }
      return std_cat == o.std_cat;
    }
  };
  struct Rule {
    Key key;
    Verdict verdict;
  };
  struct Rules {
    std::vector<Rule> rules;
    Verdict otherwise = Verdict::kSuccess;
    bool system_errors = false;
    bool throw_on_rejection = false;
  };

  static Key KeyOf(const boost::system::error_code& ec) noexcept {
    const auto& cat = ec.category();
    if (cat == boost::system::system_category() ||
        cat == boost::system::generic_category()) {
      return {ec.value(), nullptr, nullptr};
    }
    return {ec.value(), &cat, nullptr};
  }
  static Key KeyOf(const std::error_code& ec) noexcept {
    const auto& cat = ec.category();
    if (cat == std::system_category() || cat == std::generic_category()) {
      return {ec.value(), nullptr, nullptr};
    }
    return {ec.value(), nullptr, &cat};
  }

  // Never mutated: the static keeps a second owner, so setters copy first.
  static std::shared_ptr<Rules> Defaults() {
    static const std::shared_ptr<Rules> defaults = [] {
      namespace ae = boost::asio::error;
      auto r = std::make_shared<Rules>();
      for (boost::system::error_code ec :
           {ae::make_error_code(ae::connection_refused),
            ae::make_error_code(ae::connection_reset),
            ae::make_error_code(ae::connection_aborted),
            ae::make_error_code(ae::timed_out),
            ae::make_error_code(ae::host_unreachable),
            ae::make_error_code(ae::network_unreachable),
            ae::make_error_code(ae::network_down),
            ae::make_error_code(ae::network_reset),
            ae::make_error_code(ae::broken_pipe),
            ae::make_error_code(ae::eof)}) {
        r->rules.push_back({KeyOf(ec), Verdict::kFailure});
      }
      r->rules.push_back({KeyOf(ae::make_error_code(ae::operation_aborted)),
                          Verdict::kIgnore});
      for (errc refusal : {errc::circuit_open, errc::concurrency_limit}) {
        r->rules.push_back({KeyOf(make_error_code(refusal)), Verdict::kIgnore});
        r->rules.push_back(
            {KeyOf(make_std_error_code(refusal)), Verdict::kIgnore});
      }
      return r;
    }();
    return defaults;
  }

  Verdict Lookup(const Key& key) const noexcept {
    for (const Rule& r : rules_->rules) {
      if (r.key == key) return r.verdict;
    }
    return rules_->otherwise;
  }

  // Copy-on-write: rules shared with another policy are copied first.
  Rules& mutable_rules() {
    if (rules_.use_count() != 1) rules_ = std::make_shared<Rules>(*rules_);
    return *rules_;
  }

  ErrorPolicy& set(const Key& key, Verdict v) {
    Rules& r = mutable_rules();
    for (Rule& rule : r.rules) {
      if (rule.key == key) {
        rule.verdict = v;
        return *this;
      }
    }
    r.rules.push_back({key, v});
    return *this;
  }

  std::shared_ptr<Rules> rules_;  // shared copies are never written
};

// -----------------------------------------------------------------------------
// Settling a context from an error code (completion handlers)

// apply()
//
// Records `verdict` on `ctx` (a no-op when already settled).
inline void apply(Context& ctx, Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::kSuccess:
      ctx.succeed();
      break;
    case Verdict::kFailure:
      ctx.fail();
      break;
    case Verdict::kIgnore:
      ctx.ignore();
      break;
  }
}

// settle()
//
// Records the outcome of an operation that completed with `ec`, as
// `errors` classifies it, and returns the verdict.
//
//   sock.async_connect(ep, [ctx = set.context(peer)](auto ec) mutable {
//     circuit::asio::settle(ctx, ec);
//     ...
//   });
inline Verdict settle(Context& ctx, const boost::system::error_code& ec,
                      const ErrorPolicy& errors = {}) noexcept {
  Verdict v = errors.classify(ec);
  apply(ctx, v);
  return v;
}
inline Verdict settle(Context& ctx, const std::error_code& ec,
                      const ErrorPolicy& errors = {}) noexcept {
  Verdict v = errors.classify(ec);
  apply(ctx, v);
  return v;
}

// -----------------------------------------------------------------------------
// guarded()

namespace internal {

template <class T>
inline constexpr bool kIsErrorCode =
    std::is_same_v<T, boost::system::error_code> ||
    std::is_same_v<T, std::error_code>;

// Where a result keeps its error code, if anywhere.
template <class T>
struct CodeOf {
  static constexpr bool kHas = false;
};
template <class T>
requires kIsErrorCode<T>
struct CodeOf<T> {
  static constexpr bool kHas = true;
  static const T& Get(const T& r) noexcept { return r; }
  static T& Get(T& r) noexcept { return r; }
};
template <class E, class... Ts>
struct CodeOf<std::tuple<E, Ts...>> {
  static constexpr bool kHas = kIsErrorCode<E>;
  static const E& Get(const std::tuple<E, Ts...>& r) noexcept {
    return std::get<0>(r);
  }
  static E& Get(std::tuple<E, Ts...>& r) noexcept { return std::get<0>(r); }
};
template <class E, class U>
struct CodeOf<std::pair<E, U>> {
  static constexpr bool kHas = kIsErrorCode<E>;
  static const E& Get(const std::pair<E, U>& r) noexcept { return r.first; }
  static E& Get(std::pair<E, U>& r) noexcept { return r.first; }
};

// Whether a rejection is returned (rather than thrown) for results of type T.
template <class T>
inline constexpr bool kReturnsRejection =
    CodeOf<T>::kHas&& std::is_default_constructible_v<T>;

template <class T>
T Rejected(errc why) {
  T r{};
  auto& ec = CodeOf<T>::Get(r);
  if constexpr (std::is_same_v<std::decay_t<decltype(ec)>, std::error_code>) {
    ec = make_std_error_code(why);
  } else {
    ec = make_error_code(why);
  }
  return r;
}

// Classifies a system_error exception by its code; nullopt for other types.
inline std::optional<Verdict> SystemErrorVerdict(const std::exception_ptr& e,
                                                 const ErrorPolicy& errors) {
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& se) {
    return errors.classify(se.code());
  } catch (const std::system_error& se) {
    return errors.classify(se.code());
  } catch (...) {
    return std::nullopt;
  }
}

// Owns an admitted context; one destroyed unsettled (the awaitable was
// abandoned) records nothing against the peer.
class Guard {
 public:
  explicit Guard(Context ctx) noexcept : ctx_(std::move(ctx)) {}
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard() {
    if (!ctx_.settled()) ctx_.ignore();
  }
  Context& get() noexcept { return ctx_; }

 private:
  Context ctx_;
};

// Admission strategies: a set and a peer id, a handle, or a context the
// caller already holds (a pool's pick).
struct SetAdmit {
  CircuitBreakerSet* set;
  std::string peer;
  Context context() { return set->context(peer); }
  absl::StatusOr<Context> try_context() { return set->try_context(peer); }
};
struct HandleAdmit {
  PeerHandle handle;
  Context context() { return handle.context(); }
  absl::StatusOr<Context> try_context() { return handle.try_context(); }
};
struct ReadyAdmit {
  explicit ReadyAdmit(Context c) noexcept : ctx(std::move(c)) {}
  ReadyAdmit(ReadyAdmit&&) noexcept = default;
  ReadyAdmit& operator=(ReadyAdmit&&) = delete;
  // Never awaited: the call was never made.
  ~ReadyAdmit() {
    if (!ctx.settled()) ctx.ignore();
  }
  Context context() { return std::move(ctx); }
  absl::StatusOr<Context> try_context() { return std::move(ctx); }
  Context ctx;
};

template <class T, class Executor, class Admit>
boost::asio::awaitable<T, Executor> Run(Admit admit,
                                        boost::asio::awaitable<T, Executor> op,
                                        ErrorPolicy errors) {
  std::optional<Context> admitted;
  if constexpr (kReturnsRejection<T>) {
    if (errors.throws_on_rejection()) {
      admitted.emplace(admit.context());
    } else {
      absl::StatusOr<Context> r = admit.try_context();
      if (!r.ok()) {
        switch (r.status().code()) {
          case absl::StatusCode::kUnavailable:
            co_return Rejected<T>(errc::circuit_open);
          case absl::StatusCode::kResourceExhausted:
            co_return Rejected<T>(errc::concurrency_limit);
          default:
            throw std::invalid_argument(std::string(r.status().message()));
        }
      }
      admitted.emplace(*std::move(r));
    }
  } else {
    admitted.emplace(admit.context());
  }
  Guard guard(*std::move(admitted));
  admitted.reset();
  Context& ctx = guard.get();
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(op);
      ctx.succeed();
    } else {
      T result = co_await std::move(op);
      if constexpr (CodeOf<T>::kHas) {
        apply(ctx, errors.classify(CodeOf<T>::Get(result)));
      } else {
        ctx.succeed();
      }
      co_return result;
    }
  } catch (...) {
    std::exception_ptr e = std::current_exception();
    std::optional<Verdict> v;
    if (errors.classifies_system_errors()) v = SystemErrorVerdict(e, errors);
    if (v.has_value()) {
      apply(ctx, *v);
    } else {
      ctx.fail(e);
    }
    throw;
  }
}

}  // namespace internal

// guarded(set, peer, op [, errors])
//
// An awaitable that, when awaited, admits a call to `peer` (see
// "Rejection" in the file comment), awaits `op`, records its outcome (see
// "What counts as a failure") and returns its result or rethrows its
// exception unchanged. `peer` is copied; `op` does not start when rejected.
//
//   std::size_t n = co_await circuit::asio::guarded(
//       set, "10.0.0.7:7000", read_reply(sock));  // throws CircuitOpenError
template <class T, class Executor>
boost::asio::awaitable<T, Executor> guarded(
    CircuitBreakerSet& set, std::string_view peer,
    boost::asio::awaitable<T, Executor> op, ErrorPolicy errors = {}) {
  return internal::Run<T, Executor>(internal::SetAdmit{&set, std::string(peer)},
                                    std::move(op), std::move(errors));
}

// guarded(handle, op [, errors])
//
// The same through a `PeerHandle` (no lookup).
template <class T, class Executor>
boost::asio::awaitable<T, Executor> guarded(
    const PeerHandle& peer, boost::asio::awaitable<T, Executor> op,
    ErrorPolicy errors = {}) {
  return internal::Run<T, Executor>(internal::HandleAdmit{peer}, std::move(op),
                                    std::move(errors));
}

// guarded(ctx, op [, errors])
//
// Runs `op` under a call already admitted, such as a pool's pick from
// `CircuitBreakerSet::first_admitting()`, and records its outcome. A context
// whose awaitable is never awaited records its call as ignored.
//
//   if (auto pick = set.first_admitting(peers, next++)) {
//     auto [ec, n] = co_await circuit::asio::guarded(
//         std::move(pick->context), echo(endpoints[pick->index], msg));
//   }
template <class T, class Executor>
boost::asio::awaitable<T, Executor> guarded(
    Context ctx, boost::asio::awaitable<T, Executor> op,
    ErrorPolicy errors = {}) {
  return internal::Run<T, Executor>(internal::ReadyAdmit(std::move(ctx)),
                                    std::move(op), std::move(errors));
}

}  // namespace circuit::asio

#endif  // CIRCUIT_ASIO_H_
