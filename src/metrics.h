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

// The `peer` label value of a peer id, before the exposition format's own
// escaping (which prometheus_text() adds, and prometheus-cpp's serializer).
// Peer ids are arbitrary bytes; the label is valid UTF-8, readable, and
// distinct for distinct peers: valid UTF-8 is kept, except that a backslash
// becomes two (`\\`), and each byte that is not part of a strictly valid
// UTF-8 sequence (as Prometheus reads it: no overlong forms, surrogates or
// code points past U+10FFFF) becomes `\xHH` (upper-case hex). Every
// backslash in a label starts one of these two escapes, so a label reads
// back as exactly one peer id.
std::string PeerLabel(std::string_view peer);

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_METRICS_H_
