// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "circuit/context.h"

#include <exception>
#include <utility>

#include "circuit/internal/hot_path.h"

namespace circuit {

using internal::Outcome;
using internal::UncaughtExceptions;

Context& Context::operator=(Context&& other) noexcept {
  if (this != &other) {
    if (ticket_.breaker != nullptr) settle_unsettled();
    core_ = other.core_;
    ticket_ = other.ticket_;
    uncaught_ = other.uncaught_;
    other.ticket_.breaker = nullptr;
  }
  return *this;
}

void Context::settle_unsettled() noexcept {
  // An exception escaping the scope that holds this context is a failure;
  // its type is invisible here (see the header).
  finish(UncaughtExceptions() > uncaught_ ? Outcome::kFailure
                                          : Outcome::kSuccess);
}

void Context::fail() noexcept {
  if (ticket_.breaker != nullptr) finish(Outcome::kFailure);
}

void Context::fail(std::exception_ptr e) noexcept {
  if (ticket_.breaker != nullptr) finish(core_->Classify(e));
}

void Context::ignore() noexcept {
  if (ticket_.breaker != nullptr) finish(Outcome::kIgnored);
}

void Context::settle(const absl::Status& status) noexcept {
  if (ticket_.breaker != nullptr) finish(core_->OutcomeOf(status));
}

std::string_view Context::peer() const noexcept {
  return ticket_.breaker == nullptr ? std::string_view()
                                    : internal::PeerOf(ticket_.breaker);
}

void Context::finish(Outcome outcome) noexcept {
  // The ticket is passed where it is, not copied: the admission has just
  // stored it field by field, and a copy's wider loads would wait for those
  // stores to retire instead of taking their values from the store buffer.
  core_->Settle(ticket_, outcome);
  ticket_.breaker = nullptr;
}

}  // namespace circuit
