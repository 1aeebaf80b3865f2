// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// -----------------------------------------------------------------------------
// File: circuit.h
// -----------------------------------------------------------------------------
//
// The whole public API of the core library in one include, with the
// version macros. Start with circuit/breaker_set.h. Adapters
// (circuit/redis_store.h, circuit/asio.h, circuit/prometheus.h) are separate
// includes and, except the header-only Asio helpers, separate libraries
// (libcircuit-redis, libcircuit-prometheus), present when built.

#ifndef CIRCUIT_CIRCUIT_H_
#define CIRCUIT_CIRCUIT_H_

#include "circuit/breaker_set.h"  // IWYU pragma: export
#include "circuit/clock.h"        // IWYU pragma: export
#include "circuit/context.h"      // IWYU pragma: export
#include "circuit/errors.h"       // IWYU pragma: export
#include "circuit/listener.h"     // IWYU pragma: export
#include "circuit/options.h"      // IWYU pragma: export
#include "circuit/state.h"        // IWYU pragma: export
#include "circuit/state_store.h"  // IWYU pragma: export
#include "circuit/version.h"      // IWYU pragma: export

#endif  // CIRCUIT_CIRCUIT_H_
