// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// std::uncaught_exceptions() without its cost, for the Context of every call.
//
// libstdc++ implements it as a call to __cxa_get_globals(), which reaches
// its thread-local block through __tls_get_addr: about 6 ns, and a context
// needs it twice (at birth and when it settles itself). The Itanium C++ ABI
// fixes the layout of that per-thread block ({caughtExceptions,
// uncaughtExceptions}) and its address is stable for the thread's life, so
// it is fetched once per thread and then read directly.

#ifndef CIRCUIT_SRC_UNCAUGHT_H_
#define CIRCUIT_SRC_UNCAUGHT_H_

#include <exception>

#if defined(__GLIBCXX__) && defined(__GXX_ABI_VERSION)
#define CIRCUIT_FAST_UNCAUGHT 1
#endif

namespace circuit::internal {

#if defined(CIRCUIT_FAST_UNCAUGHT)
struct EhGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

// Defined in context.cc. initial-exec: one %fs-relative load.
extern __thread const EhGlobals* tl_eh_globals
    __attribute__((tls_model("initial-exec")));
const EhGlobals* FetchEhGlobals() noexcept;

inline int UncaughtExceptions() noexcept {
  const EhGlobals* g = tl_eh_globals;
  if (g == nullptr) [[unlikely]] g = FetchEhGlobals();
  return static_cast<int>(g->uncaught_exceptions);
}
#else
inline int UncaughtExceptions() noexcept { return std::uncaught_exceptions(); }
#endif

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_UNCAUGHT_H_
