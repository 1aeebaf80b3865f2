// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the Prometheus text exposition (metrics.cc) and the
// prometheus-cpp collectable (prometheus/collectable.cc), so both expose the
// same names and label values.

#ifndef CIRCUIT_SRC_METRICS_H_
#define CIRCUIT_SRC_METRICS_H_

#include <string>
#include <string_view>

namespace circuit::internal {

// A metric name prefix: characters outside [a-zA-Z0-9_:] become '_', and a
// leading digit gets a '_' before it, so any prefix gives valid names.
std::string MetricPrefix(std::string_view prefix);

// `s` as strict UTF-8 (as Prometheus reads it): each byte that is not part
// of a valid sequence (including overlong forms, surrogates and code points
// past U+10FFFF) becomes U+FFFD. Peer ids are arbitrary bytes.
std::string ValidUtf8(std::string_view s);

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_METRICS_H_
