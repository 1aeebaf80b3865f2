// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// peer_pool: the demo. A client pool spreads requests over 8 peers for 60
// simulated seconds. Some peers go down and come back on a script (a crash,
// a hang, a flapping peer, a peer that never returns, ...), one turns slow
// without ever failing, and for a moment the client's own network fails, so
// that every peer looks down at once. Each request is admitted through the
// peer's breaker; when the breaker rejects it, the pool reroutes it to the
// next peer. Calls take time, so their contexts stay open and are settled
// later, as an asynchronous client would do.
//
// The set also judges the peers together: outlier ejection by latency takes
// the slow peer out for a while, and `max_open_fraction` keeps half of the
// pool closed while everything fails at once, so the pool serves again as
// soon as the network is back. To show what that cap buys, the demo runs the
// same script a second time without it and compares the two.
//
// Time is a `circuit::ManualClock` that the simulation advances in 10 ms
// steps, so the run is deterministic (fixed seed) and takes well under a
// second. Each trip and ejection is logged through an spdlog logger; at the
// end the demo draws every peer's state over time and a table of its
// counters.
//
//   peer_pool              colors when stdout is a terminal
//   peer_pool --color      colors always
//   peer_pool --no-color   never (also when NO_COLOR is set)

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/circuit.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

constexpr int kSlices = 60;          // timeline columns
constexpr int kStepsPerSlice = 100;  // 1 column = 1 s
constexpr absl::Duration kStep = absl::Milliseconds(10);
constexpr double kRequestsPerStep = 0.45;  // about 45 requests/s
constexpr int kTries = 3;                  // first peer + 2 reroutes
constexpr absl::Duration kTimeout = absl::Seconds(1);

// The client's own network is down in [kOutageStart, kOutageEnd): every call
// fails at once, whichever peer it goes to.
constexpr double kOutageStart = 52;
constexpr double kOutageEnd = 53.5;
// How long after the outage the two runs are compared.
constexpr double kAfterOutage = 5;

// splitmix64: the same sequence on every platform and standard library.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int below(int n) {
    return static_cast<int>(next() % static_cast<unsigned>(n));
  }

 private:
  std::uint64_t s_;
};

// How a peer answers a call made at a given second of the run.
struct Behavior {
  enum Mode { kServe, kRefuse, kHang } mode = kServe;
  double error_rate = 0;  // kServe: the share of calls that fail anyway
  int slowdown = 1;       // kServe: calls take this many times longer
};

struct Peer {
  const char* name;
  const char* scenario;  // shown in the summary
  Behavior (*at)(double t);
};

constexpr Behavior kUp{Behavior::kServe, 0};
constexpr Behavior kRefuse{Behavior::kRefuse, 0};
constexpr Behavior kHang{Behavior::kHang, 0};
constexpr Behavior kSlow{Behavior::kServe, 0, 5};

// The script. Times are seconds since the start of the run.
const std::array<Peer, 8> kPeers = {{
    {"node-1", "healthy", [](double) { return kUp; }},
    {"node-2", "slow 12s-36s, never fails",
     [](double t) { return t >= 12 && t < 36 ? kSlow : kUp; }},
    {"node-3", "crashed 8s-20s",
     [](double t) { return t >= 8 && t < 20 ? kRefuse : kUp; }},
    {"node-4", "hung 14s-28s (1s timeouts)",
     [](double t) { return t >= 14 && t < 28 ? kHang : kUp; }},
    {"node-5", "flapping 10s-46s",
     [](double t) {
       bool down = t >= 10 && t < 46 && static_cast<int>(t - 10) % 6 < 3;
       return down ? kRefuse : kUp;
     }},
    {"node-6", "down from 30s on",
     [](double t) { return t >= 30 ? kRefuse : kUp; }},
    {"node-7", "40% errors 36s-50s",
     [](double t) {
       return t >= 36 && t < 50 ? Behavior{Behavior::kServe, 0.4} : kUp;
     }},
    {"node-8", "blip at 24s (0.3s)",
     [](double t) { return t >= 24 && t < 24.3 ? kRefuse : kUp; }},
}};

int PeerIndex(std::string_view name) {
  for (std::size_t i = 0; i < kPeers.size(); ++i) {
    if (name == kPeers[i].name) return static_cast<int>(i);
  }
  return -1;
}

bool InOutage(double t) { return t >= kOutageStart && t < kOutageEnd; }

unsigned StateBit(circuit::State s) { return 1u << static_cast<unsigned>(s); }
// Events of a slice, next to the state bits.
constexpr unsigned kEjectedBit = 1u << 8;
constexpr unsigned kSuppressedBit = 1u << 9;

// Records which states each peer was in during each time slice, and when it
// was ejected or had a trip suppressed: states are sampled by the simulation
// every step and told by the set on every state change (a probe that fails
// at once is half-open for no time at all); events are told by the set.
class Timeline : public circuit::Listener {
 public:
  void state_change(std::string_view peer, circuit::State from,
                    circuit::State to) override {
    (void)from;
    mark(PeerIndex(peer), StateBit(to));
  }
  void ejected(std::string_view peer, std::string_view reason) override {
    (void)reason;  // the logger has it
    mark(PeerIndex(peer), kEjectedBit);
  }
  void trip_suppressed(std::string_view peer) override {
    mark(PeerIndex(peer), kSuppressedBit);
  }
  void mark(int peer, unsigned bits) {
    if (peer >= 0 && slice < kSlices) seen[peer][slice] |= bits;
  }

  int slice = 0;
  std::array<std::array<unsigned, kSlices>, kPeers.size()> seen{};
};

// Prints the simulated time in log lines (spdlog flag %*).
class SimTimeFlag final : public spdlog::custom_flag_formatter {
 public:
  SimTimeFlag(const circuit::Clock* clock, absl::Time start)
      : clock_(clock), start_(start) {}
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "t=%5.2fs",
                          absl::ToDoubleSeconds(clock_->now() - start_));
    dest.append(buf, buf + n);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SimTimeFlag>(clock_, start_);
  }

 private:
  const circuit::Clock* clock_;
  absl::Time start_;
};

// ANSI styles, or nothing when colors are off.
struct Style {
  bool on = false;
  const char* operator()(const char* code) const { return on ? code : ""; }
};
constexpr const char* kBold = "\033[1m";
constexpr const char* kDim = "\033[2m";
constexpr const char* kRed = "\033[31m";
constexpr const char* kGreen = "\033[32m";
constexpr const char* kYellow = "\033[33m";
constexpr const char* kMagenta = "\033[35m";
constexpr const char* kCyan = "\033[36m";
constexpr const char* kReset = "\033[0m";

// One glyph per slice: an ejection wins, then half-open (it is brief), then
// open, then a suppressed trip (the peer stayed closed), then closed.
struct Glyph {
  const char* text;
  const char* color;
};
Glyph GlyphFor(unsigned seen, bool fancy) {
  using circuit::State;
  if (seen & kEjectedBit) return {"E", kMagenta};
  if (seen & StateBit(State::kHalfOpen)) return {fancy ? "▄" : "o", kYellow};
  if (seen & StateBit(State::kOpen)) return {fancy ? "█" : "#", kRed};
  if (seen & kSuppressedBit) return {"!", kCyan};
  return {fancy ? "▁" : ".", kGreen};
}

const char* StateColor(circuit::State s) {
  switch (s) {
    case circuit::State::kOpen:
    case circuit::State::kForcedOpen:
      return kRed;
    case circuit::State::kHalfOpen:
      return kYellow;
    default:
      return kGreen;
  }
}

// A call in flight: its context is settled when the peer answers.
struct InFlight {
  circuit::Context ctx;
  absl::Time done;
  bool ok;
  bool after_outage;  // sent in the kAfterOutage seconds after the outage
};

struct PoolStats {
  int requests = 0;
  int served = 0;    // the call succeeded
  int failed = 0;    // the call was made and failed
  int rerouted = 0;  // a breaker rejected it and another peer took it
  int shed = 0;      // every peer tried was rejected
  // Requests that arrived in the kAfterOutage seconds after the outage, and
  // how many of them were served.
  int after_outage = 0;
  int served_after_outage = 0;
};

// Runs the script on `set`, whose clock is `clock`, and records the peers'
// states in `timeline` (if any).
PoolStats Simulate(circuit::CircuitBreakerSet& set, circuit::ManualClock& clock,
                   Timeline* timeline) {
  const absl::Time start = clock.now();
  Rng rng(20260101);
  PoolStats pool;
  std::vector<InFlight> in_flight;  // destroyed before `set`

  for (int step = 0; step < kSlices * kStepsPerSlice; ++step) {
    const absl::Time now = clock.now();
    const double t = absl::ToDoubleSeconds(now - start);
    if (timeline != nullptr) timeline->slice = step / kStepsPerSlice;

    // 1. Answers arrive: settle their contexts.
    for (std::size_t i = 0; i < in_flight.size();) {
      if (in_flight[i].done > now) {
        ++i;
        continue;
      }
      InFlight& call = in_flight[i];
      if (call.ok) {
        call.ctx.succeed();
        ++pool.served;
        if (call.after_outage) ++pool.served_after_outage;
      } else {
        call.ctx.fail();
        ++pool.failed;
      }
      if (i + 1 != in_flight.size()) in_flight[i] = std::move(in_flight.back());
      in_flight.pop_back();
    }

    // 2. A request may arrive: pick a peer, reroute while its breaker says no.
    if (rng.uniform() < kRequestsPerStep) {
      ++pool.requests;
      const bool after_outage =
          t >= kOutageEnd && t < kOutageEnd + kAfterOutage;
      if (after_outage) ++pool.after_outage;
      const int first = rng.below(static_cast<int>(kPeers.size()));
      bool placed = false;
      for (int k = 0; k < kTries && !placed; ++k) {
        const Peer& peer = kPeers[(first + k) % kPeers.size()];
        std::optional<circuit::Context> ctx;
        if (k == 0) {
          try {
            ctx.emplace(set.context(peer.name));  // throws when rejected
          } catch (const circuit::RejectedError&) {
            continue;
          }
        } else {
          absl::StatusOr<circuit::Context> c = set.try_context(peer.name);
          if (!c.ok()) continue;  // kUnavailable: try the next peer
          ctx.emplace(*std::move(c));
          ++pool.rerouted;
        }
        // While the client's own network is down, every call fails fast.
        const Behavior b = InOutage(t) ? kRefuse : peer.at(t);
        absl::Duration latency =
            absl::Milliseconds(20 + rng.below(80)) * b.slowdown;
        bool ok = rng.uniform() >= b.error_rate;
        if (b.mode == Behavior::kRefuse) {
          latency = absl::Milliseconds(5);
          ok = false;
        } else if (b.mode == Behavior::kHang) {
          latency = kTimeout;
          ok = false;
        }
        in_flight.push_back({*std::move(ctx), now + latency, ok, after_outage});
        placed = true;
      }
      if (!placed) ++pool.shed;
    }

    // 3. Sample every peer's state for the timeline.
    if (timeline != nullptr) {
      for (std::size_t p = 0; p < kPeers.size(); ++p) {
        timeline->mark(static_cast<int>(p),
                       StateBit(set.state(kPeers[p].name)));
      }
    }
    clock.advance(kStep);
  }
  // The run is over: calls still in flight count neither way.
  for (InFlight& call : in_flight) call.ctx.ignore();
  return pool;
}

}  // namespace

int main(int argc, char** argv) {
  bool color = isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--color") == 0) color = true;
    if (std::strcmp(argv[i], "--no-color") == 0) color = false;
  }
  const bool fancy = color;  // Unicode blocks with colors, ASCII without
  const Style st{color};

  circuit::ManualClock clock;
  const absl::Time start = clock.now();

  // The logger: colored stdout, simulated time stamps, info and up (trips
  // are warnings; half-open and closed are info; probes are debug).
  auto sink = std::make_shared<spdlog::sinks::stdout_color_sink_mt>(
      color ? spdlog::color_mode::always : spdlog::color_mode::never);
  auto logger = std::make_shared<spdlog::logger>("pool", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<SimTimeFlag>('*', &clock, start)
      .set_pattern("  %* %^%-4!l%$ %v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::info);

  circuit::SetOptions options;
  options.clock = &clock;
  options.logger = logger;
  options.defaults.max_failures = 3;                  // the 4th failure...
  options.defaults.time_unit = absl::Seconds(5);      // ...within 5 s opens
  options.defaults.reset_timeout = absl::Seconds(3);  // first open period
  options.defaults.backoff_multiplier = 2;            // 3 s, 6 s, 12 s, ...
  options.defaults.max_reset_timeout = absl::Seconds(20);
  options.defaults.half_open_successes = 2;  // 2 good probes close
  options.log_interval = absl::Seconds(10);  // one trip line per peer per 10 s
  // Judging the peers together: at most half of them open at once...
  options.max_open_fraction = 0.5;
  // ...and every 10 s, eject a peer whose median latency is over 3 times the
  // median of the peers' medians (among peers with 20 calls or more).
  options.outlier.latency_factor = 3;
  circuit::CircuitBreakerSet set(options);
  auto timeline = std::make_shared<Timeline>();
  set.add_listener(timeline);

  std::printf(
      "%scircuit demo%s: a pool of %zu peers, %d s of traffic on a "
      "ManualClock\n",
      st(kBold), st(kReset), kPeers.size(), kSlices);
  std::printf(
      "%spolicy: open on the 4th failure within 5s; stay open 3s, "
      "doubled for each trip\nin a row (max 20s); 2 good probes in "
      "a row close it. Every 10s, eject a peer\nwhose median latency is "
      "over 3x the pool's; never more than half the pool open.%s\n",
      st(kDim), st(kReset));
  std::printf(
      "%sthe client's own network is down from %gs to %gs: every call "
      "fails then.%s\n\n",
      st(kDim), kOutageStart, kOutageEnd, st(kReset));
  std::printf(
      "%slog%s (spdlog, info and up; a peer's trips are logged at "
      "most once per 10 s):\n",
      st(kBold), st(kReset));
  std::fflush(stdout);

  const PoolStats pool = Simulate(set, clock, timeline.get());

  // The timeline.
  std::printf("\n%sbreaker state over time%s (1 column = 1 s)\n", st(kBold),
              st(kReset));
  std::string axis = "         ";
  std::string ticks = "         ";
  for (int s = 0; s <= kSlices; s += 10) {
    axis.resize(9 + s, ' ');
    axis += std::to_string(s) + "s";
    ticks.resize(9 + s, ' ');
    ticks += "|";
  }
  std::printf("%s%s\n%s%s\n", st(kDim), axis.c_str(), ticks.c_str(),
              st(kReset));
  for (std::size_t p = 0; p < kPeers.size(); ++p) {
    std::printf("  %-7s", kPeers[p].name);
    const char* current = nullptr;
    for (int s = 0; s < kSlices; ++s) {
      Glyph g = GlyphFor(timeline->seen[p][s], fancy);
      if (color && g.color != current) {
        std::printf("%s", g.color);
        current = g.color;
      }
      std::printf("%s", g.text);
    }
    std::printf("%s\n", st(kReset));
  }
  const Glyph closed = GlyphFor(StateBit(circuit::State::kClosed), fancy);
  const Glyph open = GlyphFor(StateBit(circuit::State::kOpen), fancy);
  const Glyph half = GlyphFor(StateBit(circuit::State::kHalfOpen), fancy);
  const Glyph ejected = GlyphFor(kEjectedBit, fancy);
  const Glyph suppressed = GlyphFor(kSuppressedBit, fancy);
  std::printf(
      "         %s%s%s closed   %s%s%s open (rejecting)   %s%s%s "
      "half-open (probing)\n"
      "         %s%s%s ejected (outlier)   %s%s%s closed, a trip suppressed "
      "(max_open_fraction)\n\n",
      st(closed.color), closed.text, st(kReset), st(open.color), open.text,
      st(kReset), st(half.color), half.text, st(kReset), st(ejected.color),
      ejected.text, st(kReset), st(suppressed.color), suppressed.text,
      st(kReset));

  // The summary, from snapshot().
  std::printf("%s  %-7s %-26s %5s %5s %6s %8s %5s %5s %5s  %s%s\n", st(kBold),
              "peer", "scenario", "calls", "ok", "failed", "rejected", "trips",
              "eject", "suppr", "now", st(kReset));
  for (const Peer& peer : kPeers) {
    std::optional<circuit::PeerSnapshot> snap = set.snapshot(peer.name);
    if (!snap) continue;
    const std::string state(circuit::state_name(snap->state));
    std::printf(
        "  %-7s %-26s %5llu %5llu %6llu %8llu %5llu %5llu %5llu  %s%s%s\n",
        peer.name, peer.scenario, static_cast<unsigned long long>(snap->calls),
        static_cast<unsigned long long>(snap->successes),
        static_cast<unsigned long long>(snap->failures),
        static_cast<unsigned long long>(snap->rejections),
        static_cast<unsigned long long>(snap->trips),
        static_cast<unsigned long long>(snap->ejections),
        static_cast<unsigned long long>(snap->suppressed_trips),
        st(StateColor(snap->state)), state.c_str(), st(kReset));
  }
  std::printf(
      "%s  (trips include ejections; eject: ejected as an outlier; suppr: "
      "trips suppressed\n  by max_open_fraction)%s\n",
      st(kDim), st(kReset));
  std::printf(
      "\n%spool:%s %d requests: %d served, %d failed, %d rerouted "
      "around an open breaker, %d shed\n",
      st(kBold), st(kReset), pool.requests, pool.served, pool.failed,
      pool.rerouted, pool.shed);
  std::printf(
      "%s(\"failed\" includes late outcomes: calls admitted before a trip "
      "that failed\nafter it are counted, but do not move the breaker)%s\n",
      st(kDim), st(kReset));

  // The same script without the cap on open peers, silently.
  circuit::ManualClock uncapped_clock;
  circuit::SetOptions uncapped = options;
  uncapped.clock = &uncapped_clock;
  uncapped.logger = nullptr;
  uncapped.max_open_fraction = 1;
  circuit::CircuitBreakerSet uncapped_set(uncapped);
  const PoolStats without = Simulate(uncapped_set, uncapped_clock, nullptr);
  std::printf(
      "\n%safter the outage:%s %d of the %d requests of the %g s after the "
      "network came back\nwere served; without the cap (max_open_fraction = "
      "1), the same script served %d of %d\n",
      st(kBold), st(kReset), pool.served_after_outage, pool.after_outage,
      kAfterOutage, without.served_after_outage, without.after_outage);
  return 0;
}
