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

#include "circuit/breaker_set.h"

namespace circuit::internal {

// PeerSeries
//
// The per-peer series besides `_state`: the name after the prefix, the
// help text, whether it is a counter (else a gauge), and its value.
struct PeerSeries {
  const char* name;
  const char* help;
  bool counter;
  double (*value)(const PeerSnapshot& s);
};

inline constexpr PeerSeries kPeerSeries[] = {
    {"_calls_total", "Admitted calls with a recorded outcome.", true,
     [](const PeerSnapshot& s) { return static_cast<double>(s.calls); }},
    {"_failures_total", "Counted failures.", true,
     [](const PeerSnapshot& s) { return static_cast<double>(s.failures); }},
    {"_rejections_total",
     "Calls refused: by the breaker, or by a full bulkhead.", true,
     [](const PeerSnapshot& s) { return static_cast<double>(s.rejections); }},
    {"_trips_total", "Transitions into the open state.", true,
     [](const PeerSnapshot& s) { return static_cast<double>(s.trips); }},
    {"_ejections_total",
     "Outlier ejections (detections when ejection is not enforced).", true,
     [](const PeerSnapshot& s) { return static_cast<double>(s.ejections); }},
    {"_suppressed_trips_total", "Trips suppressed by max_open_fraction.", true,
     [](const PeerSnapshot& s) {
       return static_cast<double>(s.suppressed_trips);
     }},
    {"_in_flight",
     "Calls admitted and not yet settled (exact with max_concurrent_calls on; "
     "else the probes in flight).",
     false,
     [](const PeerSnapshot& s) { return static_cast<double>(s.in_flight); }},
};

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
