// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "circuit/context.h"

#include <cxxabi.h>

#include <exception>
#include <utility>

#include "set_core.h"
#include "uncaught.h"

namespace circuit {
namespace internal {

#if defined(CIRCUIT_FAST_UNCAUGHT)
__thread const EhGlobals* tl_eh_globals
    __attribute__((tls_model("initial-exec"))) = nullptr;

const EhGlobals* FetchEhGlobals() noexcept {
  const auto* g = reinterpret_cast<const EhGlobals*>(abi::__cxa_get_globals());
  tl_eh_globals = g;
  return g;
}
#endif

}  // namespace internal

using internal::UncaughtExceptions;
using internal::Outcome;

Context::Context(internal::SetCore* core, internal::Entry* entry,
                 std::uint64_t generation, std::int64_t start_ns,
                 std::uint32_t epoch, bool probe) noexcept
    : core_(core),
      entry_(entry),
      generation_(generation),
      start_ns_(start_ns),
      uncaught_(UncaughtExceptions()),
      epoch_(epoch),
      probe_(probe) {}

Context& Context::operator=(Context&& other) noexcept {
  if (this != &other) {
    if (entry_ != nullptr) {
      finish(static_cast<int>(UncaughtExceptions() > uncaught_
                                  ? Outcome::kFailure
                                  : Outcome::kSuccess));
    }
    core_ = other.core_;
    entry_ = std::exchange(other.entry_, nullptr);
    generation_ = other.generation_;
    start_ns_ = other.start_ns_;
    uncaught_ = other.uncaught_;
    epoch_ = other.epoch_;
    probe_ = other.probe_;
  }
  return *this;
}

void Context::settle_unsettled() noexcept {
  // An exception escaping the scope that holds this context is a failure;
  // its type is invisible here (see the header).
  finish(static_cast<int>(UncaughtExceptions() > uncaught_ ? Outcome::kFailure
                                                           : Outcome::kSuccess));
}

void Context::succeed() noexcept {
  if (entry_ != nullptr) finish(static_cast<int>(Outcome::kSuccess));
}

void Context::fail() noexcept {
  if (entry_ != nullptr) finish(static_cast<int>(Outcome::kFailure));
}

void Context::fail(std::exception_ptr e) noexcept {
  if (entry_ != nullptr) finish(static_cast<int>(core_->Classify(e)));
}

void Context::ignore() noexcept {
  if (entry_ != nullptr) finish(static_cast<int>(Outcome::kIgnored));
}

void Context::settle(const absl::Status& status) noexcept {
  if (entry_ == nullptr) return;
  finish(static_cast<int>(core_->StatusIsFailure(status) ? Outcome::kFailure
                                                         : Outcome::kSuccess));
}

std::string_view Context::peer() const noexcept {
  return entry_ == nullptr ? std::string_view() : entry_->key();
}

void Context::finish(int outcome) noexcept {
  internal::Entry* e = std::exchange(entry_, nullptr);
  core_->SettleFast(e, generation_, probe_, static_cast<Outcome>(outcome),
                    start_ns_, epoch_);
}

}  // namespace circuit
