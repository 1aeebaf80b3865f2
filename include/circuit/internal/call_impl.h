// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Template bodies of `CircuitBreakerSet` (circuit/breaker_set.h). Not API:
// everything under circuit/internal/ may change without notice.

#ifndef CIRCUIT_INTERNAL_CALL_IMPL_H_
#define CIRCUIT_INTERNAL_CALL_IMPL_H_

#include <exception>
#include <functional>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/breaker_set.h"
#include "circuit/context.h"
#include "circuit/errors.h"

namespace circuit {
namespace internal {

template <class T>
struct IsStatusOr : std::false_type {};
template <class T>
struct IsStatusOr<absl::StatusOr<T>> : std::true_type {};

// Results whose rejection is returned rather than thrown.
template <class R>
inline constexpr bool kIsStatusLike =
    std::is_same_v<R, absl::Status> || IsStatusOr<R>::value;

template <class R>
const absl::Status& StatusOf(const R& r) {
  if constexpr (std::is_same_v<R, absl::Status>) {
    return r;
  } else {
    return r.status();
  }
}

// "No predicate" / "no fallback" placeholders for call_impl.
struct NoPredicate {};
struct NoFallback {};

template <class E>
bool MatchesType(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

// Whether `Fallback` can stand in for a call refused with `E`: it takes the
// refusal, or nothing.
template <class Fallback, class E>
inline constexpr bool kFallsBackOn =
    std::is_invocable_v<Fallback&, const E&> || std::is_invocable_v<Fallback&>;

// The fallback's result for a call refused with `e`, as the call's result
// type R (void included).
template <class R, class Fallback, class E>
R InvokeFallback(Fallback& fallback, const E& e) {
  if constexpr (std::is_invocable_v<Fallback&, const E&>) {
    return static_cast<R>(std::invoke(fallback, e));
  } else {
    (void)e;
    return static_cast<R>(std::invoke(fallback));
  }
}

}  // namespace internal

struct CircuitBreakerSet::Admission {
  enum class Refusal { kNone, kOpen, kBusy, kBadPeer };
  std::optional<Context> context;  // engaged when admitted
  absl::Status status;  // bad peer id, or the refusal (when asked for)
  Refusal refusal = Refusal::kNone;
  absl::Duration retry_after = absl::ZeroDuration();  // kOpen
  int limit = 0;                                      // kBusy
  std::string_view peer;
};

template <class E>
void CircuitBreakerSet::handle_error() {
  add_matcher(&internal::MatchesType<E>, /*ignore=*/false);
}

template <class E>
void CircuitBreakerSet::ignore_error() {
  add_matcher(&internal::MatchesType<E>, /*ignore=*/true);
}

template <class F, class Pred, class Fallback>
auto CircuitBreakerSet::call_impl(std::string_view peer, F&& fn,
                                  const Pred* pred, Fallback* fallback) {
  using R = std::invoke_result_t<F&>;
  constexpr bool kHasFallback = !std::is_same_v<Fallback, internal::NoFallback>;
  constexpr bool kHasPred = !std::is_same_v<Pred, internal::NoPredicate>;

  // A fallback that takes every refusal never needs the status.
  constexpr bool kWantStatus =
      internal::kIsStatusLike<R> &&
      !(kHasFallback &&
        internal::kFallsBackOn<Fallback, ConcurrencyLimitError>);
  Admission a = admit(peer, kWantStatus);
  if (!a.context.has_value()) {
    if constexpr (kHasFallback) {
      using Refusal = Admission::Refusal;
      if (a.refusal == Refusal::kOpen) {
        return internal::InvokeFallback<R>(
            *fallback, CircuitOpenError(peer, a.retry_after));
      }
      if constexpr (internal::kFallsBackOn<Fallback, ConcurrencyLimitError>) {
        if (a.refusal == Refusal::kBusy) {
          return internal::InvokeFallback<R>(
              *fallback, ConcurrencyLimitError(peer, a.limit));
        }
      }
    }
    if constexpr (internal::kIsStatusLike<R>) {
      return R(std::move(a.status));
    } else {
      throw_rejection(a);
    }
  }
  Context& ctx = *a.context;
  try {
    if constexpr (std::is_void_v<R>) {
      std::invoke(fn);
      ctx.succeed();
    } else {
      R result = std::invoke(fn);
      bool failed;
      if constexpr (kHasPred) {
        failed = static_cast<bool>(std::invoke(*pred, std::as_const(result)));
      } else if constexpr (internal::kIsStatusLike<R>) {
        failed = status_is_failure(internal::StatusOf(result));
      } else {
        failed = false;
      }
      if (failed) {
        ctx.fail();
      } else {
        ctx.succeed();
      }
      return result;
    }
  } catch (...) {
    ctx.fail(std::current_exception());
    throw;
  }
}

template <class F>
auto CircuitBreakerSet::call(std::string_view peer, F&& fn) {
  return call_impl<F, internal::NoPredicate, internal::NoFallback>(
      peer, std::forward<F>(fn), nullptr, nullptr);
}

template <class F, class Fallback>
  requires(!internal::kIsFailsWhen<std::decay_t<Fallback>>)
auto CircuitBreakerSet::call(std::string_view peer, F&& fn,
                             Fallback&& fallback) {
  auto fb = std::forward<Fallback>(fallback);
  return call_impl<F, internal::NoPredicate, decltype(fb)>(
      peer, std::forward<F>(fn), nullptr, &fb);
}

template <class F, class Pred>
auto CircuitBreakerSet::call(std::string_view peer, F&& fn,
                             FailsWhen<Pred> fails) {
  return call_impl<F, Pred, internal::NoFallback>(peer, std::forward<F>(fn),
                                                  &fails.pred, nullptr);
}

template <class F, class Pred, class Fallback>
auto CircuitBreakerSet::call(std::string_view peer, F&& fn,
                             FailsWhen<Pred> fails, Fallback&& fallback) {
  auto fb = std::forward<Fallback>(fallback);
  return call_impl<F, Pred, decltype(fb)>(peer, std::forward<F>(fn),
                                          &fails.pred, &fb);
}

}  // namespace circuit

#endif  // CIRCUIT_INTERNAL_CALL_IMPL_H_
