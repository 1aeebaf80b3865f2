// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The dependency-free Prometheus text exposition (format 0.0.4) of a set.

#include <string>
#include <string_view>
#include <vector>

#include "metrics.h"

#include "absl/strings/str_cat.h"
#include "circuit/breaker_set.h"

namespace circuit {
namespace internal {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid.
// Strict, as Prometheus reads it: no overlong forms, no surrogates, nothing
// past U+10FFFF.
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // the bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto d = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (d < lo || d > hi) : (d & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string MetricPrefix(std::string_view prefix) {
  std::string out;
  out.reserve(prefix.size() + 1);
  if (!prefix.empty() && prefix[0] >= '0' && prefix[0] <= '9') out += '_';
  for (char c : prefix) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == ':';
    out += ok ? c : '_';
  }
  return out;
}

std::string PeerLabel(std::string_view peer) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(peer.size());
  for (std::size_t i = 0; i < peer.size();) {
    std::size_t n = Utf8Length(peer, i);
    if (n == 0) {
      auto c = static_cast<unsigned char>(peer[i]);
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    } else if (peer[i] == '\\') {
      out += "\\\\";
      ++i;
    } else {
      out.append(peer.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace internal

namespace {

// A peer's label value as the text format writes it: PeerLabel(), then the
// format's escapes for a backslash, a double quote and a newline.
std::string LabelValue(std::string_view peer) {
  std::string label = internal::PeerLabel(peer);
  std::string out;
  out.reserve(label.size() + 8);
  for (char c : label) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string CircuitBreakerSet::prometheus_text(std::string_view prefix) const {
  std::vector<PeerSnapshot> peers = snapshot();
  std::string p = internal::MetricPrefix(prefix);
  std::string out;
  absl::StrAppend(&out, "# HELP ", p,
                  "_state Breaker state per peer: 1 for the current state.\n",
                  "# TYPE ", p, "_state gauge\n");
  const State kStates[] = {State::kClosed, State::kOpen, State::kHalfOpen,
                           State::kForcedOpen, State::kDisabled};
  std::vector<std::string> labels;
  labels.reserve(peers.size());
  for (const PeerSnapshot& s : peers) labels.push_back(LabelValue(s.peer));
  for (std::size_t i = 0; i < peers.size(); ++i) {
    for (State st : kStates) {
      absl::StrAppend(&out, p, "_state{peer=\"", labels[i], "\",state=\"",
                      std::string(state_name(st)), "\"} ",
                      peers[i].state == st ? 1 : 0, "\n");
    }
  }
  for (const internal::PeerSeries& c : internal::kPeerSeries) {
    absl::StrAppend(&out, "# HELP ", p, c.name, " ", c.help, "\n", "# TYPE ",
                    p, c.name, c.counter ? " counter\n" : " gauge\n");
    for (std::size_t i = 0; i < peers.size(); ++i) {
      absl::StrAppend(&out, p, c.name, "{peer=\"", labels[i], "\"} ",
                      c.value(peers[i]), "\n");
    }
  }
  return out;
}

}  // namespace circuit
