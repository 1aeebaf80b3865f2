// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "circuit/context.h"

#include <exception>
#include <utility>

#include "circuit/internal/hot_path.h"
#include "set_core.h"

namespace circuit {

using internal::UncaughtExceptions;
using internal::Outcome;

namespace {

// Context keeps the CoreHot base of its set's SetCore.
internal::SetCore* CoreOf(internal::CoreHot* core) {
  return static_cast<internal::SetCore*>(core);
}

static_assert(static_cast<int>(Outcome::kSuccess) == 0,
              "Context::succeed() in context.h passes 0");

}  // namespace

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

void Context::fail() noexcept {
  if (entry_ != nullptr) finish(static_cast<int>(Outcome::kFailure));
}

void Context::fail(std::exception_ptr e) noexcept {
  if (entry_ != nullptr) finish(static_cast<int>(CoreOf(core_)->Classify(e)));
}

void Context::ignore() noexcept {
  if (entry_ != nullptr) finish(static_cast<int>(Outcome::kIgnored));
}

void Context::settle(const absl::Status& status) noexcept {
  if (entry_ == nullptr) return;
  finish(static_cast<int>(CoreOf(core_)->StatusIsFailure(status) ? Outcome::kFailure
                                                         : Outcome::kSuccess));
}

std::string_view Context::peer() const noexcept {
  return entry_ == nullptr ? std::string_view() : entry_->key();
}

void Context::finish(int outcome) noexcept {
  internal::Entry* e = std::exchange(entry_, nullptr);
  CoreOf(core_)->SettleFast(e, generation_, probe_, static_cast<Outcome>(outcome),
                    start_ns_, epoch_);
}

}  // namespace circuit
