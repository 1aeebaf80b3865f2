// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The keyed table (src/peer_table.h) on its own: lookups, stable addresses
// across growth, colliding hashes, tombstones, LRU and idle eviction.

#include "peer_table.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "absl/time/time.h"
#include "breaker.h"
#include "circuit/clock.h"
#include "circuit/state.h"
#include "epoch.h"

namespace bdata = boost::unit_test::data;

using circuit::ManualClock;
using circuit::State;
using circuit::internal::Entry;
using circuit::internal::EpochGuard;
using circuit::internal::PeerTable;
using circuit::internal::Policy;

namespace {

std::unique_ptr<Policy> DefaultPolicy() {
  auto p = Policy::Make(circuit::BreakerOptions{}, 1);
  BOOST_REQUIRE(p.ok());
  return *std::move(p);
}

struct TableFixture {
  // Inserts `key` (with its real hash unless `hash` is given).
  Entry* Add(const std::string& key, std::uint64_t hash = 0) {
    bool created = false;
    Entry* e = table.Insert(key, hash != 0 ? hash : PeerTable::Hash(key),
                            policy.get(), &created);
    BOOST_TEST(created);
    return e;
  }

  // Find, and for an inline key FindShort too, which must agree with it.
  Entry* Get(const std::string& key, std::uint64_t hash = 0) const {
    const std::uint64_t h = hash != 0 ? hash : PeerTable::Hash(key);
    Entry* e = table.Find(key, h);
    if (key.size() <= Entry::kInlineKey) {
      BOOST_TEST(table.FindShort(key, h) == e, "FindShort of " << key);
    }
    return e;
  }

  EpochGuard pin;  // every test reads the table while pinned
  std::unique_ptr<Policy> policy = DefaultPolicy();
  PeerTable table;
  ManualClock clock;
};

// A table that keeps eviction bookkeeping.
struct EvictingFixture : TableFixture {
  EvictingFixture() { table.EnableEviction(); }
};

constexpr std::uint64_t kSameHash = 0x5eed;

}  // namespace

BOOST_FIXTURE_TEST_SUITE(PeerTableTest, TableFixture)

BOOST_AUTO_TEST_CASE(FindOfAnAbsentKeyIsNull) {
  BOOST_TEST(Get("nobody") == nullptr);
  BOOST_TEST(table.size() == 0u);
}

BOOST_AUTO_TEST_CASE(InsertCreatesOnceThenReturnsTheSameEntry) {
  Entry* first = Add("a");

  bool created = true;
  Entry* again = table.Insert("a", PeerTable::Hash("a"), policy.get(), &created);

  BOOST_TEST(!created);
  BOOST_TEST(again == first);
  BOOST_TEST(Get("a") == first);
  BOOST_TEST(first->key() == "a");
  BOOST_TEST(table.size() == 1u);
}

BOOST_AUTO_TEST_CASE(EntryAddressesAreStableAcrossGrowth) {
  Entry* first = Add("first");

  for (int i = 0; i < 5000; ++i) Add("k" + std::to_string(i));

  BOOST_TEST(Get("first") == first);
  BOOST_TEST(table.size() == 5001u);
  for (int i = 0; i < 5000; ++i) {
    Entry* e = Get("k" + std::to_string(i));
    BOOST_REQUIRE(e != nullptr);
    BOOST_TEST(e->key() == "k" + std::to_string(i));
  }
}

// A table made after another is destroyed gets the freed entries (and
// counter ids) in address order, as from a fresh slab: walked in the order
// its keys came, it reads memory one entry after the other.
BOOST_AUTO_TEST_CASE(ATableMadeAfterAnotherIsDestroyedGetsItsEntriesInOrder) {
  constexpr int kKeys = 3000;
  auto fill = [&](PeerTable& t) {
    std::vector<Entry*> made;
    for (int i = 0; i < kKeys; ++i) {
      const std::string key = "order" + std::to_string(i);
      bool created = false;
      made.push_back(
          t.Insert(key, PeerTable::Hash(key), policy.get(), &created));
    }
    return made;
  };
  std::set<Entry*> freed;
  {
    PeerTable first;
    std::vector<Entry*> made = fill(first);
    freed.insert(made.begin(), made.end());
  }

  PeerTable second;
  std::vector<Entry*> made = fill(second);

  BOOST_TEST(std::set<Entry*>(made.begin(), made.end()) == freed);
  int out_of_order = 0;
  for (int i = 1; i < kKeys; ++i) {
    if (made[i] < made[i - 1] ||
        made[i]->breaker.count_id_ < made[i - 1]->breaker.count_id_) {
      ++out_of_order;
    }
  }
  BOOST_TEST(out_of_order == 0);
}

// A table is kept at most 3/8 full while it has at most 2^16 slots, and at
// most 3/4 full past that; it grows geometrically either way, also across
// that bound (not once per insert).
BOOST_AUTO_TEST_CASE(GrowthKeepsTheLoadBoundOfItsSize) {
  constexpr int kKeys = 100000;
  int growths = 0;
  std::size_t capacity = table.Capacity();
  double worst_sparse = 0, worst_dense = 0;
  for (int i = 0; i < kKeys; ++i) {
    Add("key-" + std::to_string(i));
    if (table.Capacity() != capacity) {
      capacity = table.Capacity();
      ++growths;
    }
    const double load = static_cast<double>(table.SlotsInUse()) / capacity;
    double& worst = capacity <= (1u << 16) ? worst_sparse : worst_dense;
    worst = std::max(worst, load);
  }
  BOOST_TEST(worst_sparse <= 3.0 / 8);
  BOOST_TEST(worst_sparse > 3.0 / 8 - 0.01);  // it does fill to the bound
  BOOST_TEST(worst_dense <= 3.0 / 4);
  BOOST_TEST(worst_dense > 3.0 / 4 - 0.01);
  BOOST_TEST(growths <= 25);  // by half again each time: about 22
}

// Keys of the same hash and length that differ in one byte, at every length
// of an inline key (1 to 28: the word-wise compare's every case) and past it.
BOOST_AUTO_TEST_CASE(KeysDifferingInAnyOneByteAreToldApart) {
  for (std::size_t n = 1; n <= 40; ++n) {
    const std::uint64_t hash = kSameHash + n;
    std::string base(n, 'k');
    Entry* first = Add(base, hash);
    for (std::size_t i = 0; i < n; ++i) {
      std::string other = base;
      other[i] = 'x';
      Entry* e = Add(other, hash);  // created: no entry matched it
      BOOST_TEST(Get(other, hash) == e, "length " << n << ", byte " << i);
    }
    BOOST_TEST(Get(base, hash) == first, "length " << n);
  }
}

BOOST_AUTO_TEST_CASE(KeysWithTheSameHashAreTellApartByValue) {
  for (int i = 0; i < 40; ++i) Add("c" + std::to_string(i), kSameHash);

  for (int i = 0; i < 40; ++i) {
    Entry* e = Get("c" + std::to_string(i), kSameHash);
    BOOST_REQUIRE(e != nullptr);
    BOOST_TEST(e->key() == "c" + std::to_string(i));
  }
  BOOST_TEST(Get("c40", kSameHash) == nullptr);
}

BOOST_DATA_TEST_CASE_F(TableFixture, KeysAroundTheInlineLimitAreStoredWhole,
                       bdata::make({27, 28, 29, 100, 4096}), length) {
  std::string key(static_cast<std::size_t>(length), 'k');
  std::string sibling = key;
  sibling.back() = 'j';  // differs only in its last byte

  Entry* e = Add(key);
  Entry* s = Add(sibling);

  BOOST_TEST(e != s);
  BOOST_TEST(Get(key) == e);
  BOOST_TEST(Get(sibling) == s);
  BOOST_TEST(e->key() == key);
}

BOOST_AUTO_TEST_CASE(HashIsAFunctionOfTheBytes) {
  std::string a = "peer-1";
  std::string b(a.data(), a.size());

  BOOST_TEST(PeerTable::Hash(a) == PeerTable::Hash(b));
  BOOST_TEST(PeerTable::Hash("peer-1") != PeerTable::Hash("peer-2"));
}

BOOST_AUTO_TEST_CASE(ForEachVisitsEveryEntryOnce) {
  for (int i = 0; i < 100; ++i) Add("p" + std::to_string(i));
  std::multiset<std::string> seen;

  table.ForEach([&](Entry* e) { seen.insert(std::string(e->key())); });

  BOOST_TEST(seen.size() == 100u);
  BOOST_TEST(std::set<std::string>(seen.begin(), seen.end()).size() == 100u);
}

BOOST_AUTO_TEST_CASE(RejectionStatusNamesThePeerAndIsBuiltOnce) {
  Entry* e = Add("db-9");

  const absl::Status& first = e->RejectionStatus();
  const absl::Status& second = e->RejectionStatus();

  BOOST_TEST(absl::IsUnavailable(first));
  BOOST_TEST(std::string(first.message()).find("db-9") != std::string::npos);
  BOOST_TEST(&first == &second);
}

BOOST_AUTO_TEST_CASE(ConcurrentInsertsOfTheSameKeysCreateEachOnce) {
  constexpr int kKeys = 2000;
  std::vector<Entry*> seen[2];
  auto work = [&](int t) {
    EpochGuard g;
    for (int i = 0; i < kKeys; ++i) {
      bool created = false;
      std::string key = "k" + std::to_string(i);
      seen[t].push_back(
          table.Insert(key, PeerTable::Hash(key), policy.get(), &created));
    }
  };

  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();

  BOOST_TEST(table.size() == static_cast<std::size_t>(kKeys));
  int mismatches = 0;
  for (int i = 0; i < kKeys; ++i) mismatches += seen[0][i] != seen[1][i];
  BOOST_TEST(mismatches == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(PeerTableEvictionTest, EvictingFixture)

BOOST_AUTO_TEST_CASE(EvictOverCapDropsTheOldestFirst) {
  Add("a");
  Add("b");
  Add("c");

  std::size_t dropped = table.EvictOverCap(2, nullptr);

  BOOST_TEST(dropped == 1u);
  BOOST_TEST(Get("a") == nullptr);
  BOOST_TEST(Get("b") != nullptr);
  BOOST_TEST(table.size() == 2u);
}

BOOST_AUTO_TEST_CASE(TouchedEntryIsNoLongerTheOldest) {
  Entry* a = Add("a");
  Add("b");
  Add("c");

  table.Touch(a);
  table.EvictOverCap(2, nullptr);

  BOOST_TEST(Get("a") == a);
  BOOST_TEST(Get("b") == nullptr);
}

BOOST_AUTO_TEST_CASE(EntryUsedBeforeLaterInsertsGoesBeforeThem) {
  Entry* a = Add("a");
  Add("b");
  table.Touch(a);  // used at b's era, before c and d came
  Entry* c = Add("c");
  Entry* d = Add("d");

  // b and a (requeued behind d with its older stamp) are the two least
  // recently used: both go before c and d.
  std::size_t dropped = table.EvictOverCap(2, nullptr);

  BOOST_TEST(dropped == 2u);
  BOOST_TEST(Get("a") == nullptr);
  BOOST_TEST(Get("b") == nullptr);
  BOOST_TEST(Get("c") == c);
  BOOST_TEST(Get("d") == d);
}

BOOST_AUTO_TEST_CASE(ChurnAtACapKeepsExactlyTheNewestKeys) {
  // Colliding keys, so every insert probes past the tombstones of the ones
  // evicted before it, and reuses one.
  constexpr int kCap = 8;
  for (int i = 0; i < 2000; ++i) {
    Add("k" + std::to_string(i), kSameHash);
    table.EvictOverCap(kCap, nullptr);
  }

  BOOST_TEST(table.size() == static_cast<std::size_t>(kCap));
  for (int i = 0; i < 2000; ++i) {
    const bool kept = i >= 2000 - kCap;
    BOOST_TEST((Get("k" + std::to_string(i), kSameHash) != nullptr) == kept,
               "k" << i);
  }
}

BOOST_AUTO_TEST_CASE(EvictingFromAChainOfCollidingKeysKeepsTheRestReachable) {
  for (int i = 0; i < 8; ++i) Add("c" + std::to_string(i), kSameHash);

  table.EvictOverCap(5, nullptr);  // c0, c1, c2 go; their slots become tombstones

  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(Get("c" + std::to_string(i), kSameHash) == nullptr);
  }
  for (int i = 3; i < 8; ++i) {
    BOOST_TEST(Get("c" + std::to_string(i), kSameHash) != nullptr);
  }
  Entry* back = Add("c0", kSameHash);  // into the chain's first tombstone
  BOOST_TEST(Get("c0", kSameHash) == back);
  for (int i = 3; i < 8; ++i) {
    BOOST_TEST(Get("c" + std::to_string(i), kSameHash) != nullptr);
  }
  BOOST_TEST(Get("c1", kSameHash) == nullptr);
}

BOOST_AUTO_TEST_CASE(EvictingTheEndOfAChainEmptiesItsSlotAndTheTombstonesBefore) {
  for (int i = 0; i < 8; ++i) Add("c" + std::to_string(i), kSameHash);
  BOOST_TEST(table.SlotsInUse() == 8u);

  table.EvictOverCap(1, nullptr);  // c0..c6 go, oldest first: tombstones
  BOOST_TEST(table.SlotsInUse() == 8u);
  BOOST_TEST(Get("c7", kSameHash) != nullptr);  // past all seven

  table.EvictOverCap(0, nullptr);  // c7, before an empty slot: all of it
  BOOST_TEST(table.SlotsInUse() == 0u);
  BOOST_TEST(table.size() == 0u);
  for (int i = 0; i < 8; ++i) {
    BOOST_TEST(Get("c" + std::to_string(i), kSameHash) == nullptr);
  }
  Entry* again = Add("c3", kSameHash);
  BOOST_TEST(Get("c3", kSameHash) == again);
  BOOST_TEST(table.SlotsInUse() == 1u);
}

BOOST_AUTO_TEST_CASE(OpenAndHalfOpenEntriesAreSkipped) {
  Entry* a = Add("a");
  Entry* b = Add("b");
  Add("c");
  a->breaker.Open(clock);
  b->breaker.HalfOpen();

  std::size_t dropped = table.EvictOverCap(1, nullptr);

  BOOST_TEST(dropped == 1u);
  BOOST_TEST(Get("a") == a);
  BOOST_TEST(Get("b") == b);
  BOOST_TEST(Get("c") == nullptr);
  BOOST_TEST(table.size() == 2u);
}

BOOST_AUTO_TEST_CASE(HandledEntriesAreSkipped) {
  Entry* a = table.AcquireHandle("a", PeerTable::Hash("a"), policy.get());
  Add("b");

  table.EvictOverCap(0, nullptr);

  BOOST_TEST(Get("a") == a);
  BOOST_TEST(Get("b") == nullptr);
  a->handles.fetch_sub(1);
}

BOOST_AUTO_TEST_CASE(NothingEvictableEndsWithoutDropping) {
  for (int i = 0; i < 10; ++i) Add("p" + std::to_string(i))->breaker.Open(clock);

  std::size_t dropped = table.EvictOverCap(1, nullptr);

  BOOST_TEST(dropped == 0u);
  BOOST_TEST(table.size() == 10u);
}

BOOST_AUTO_TEST_CASE(SweepIdleDropsOnlyEntriesIdleForTheWholeTimeout) {
  const std::int64_t idle = absl::ToInt64Nanoseconds(absl::Seconds(80));
  const std::int64_t s = absl::ToInt64Nanoseconds(absl::Seconds(1));
  Add("stale");
  Entry* busy = Add("busy");
  table.SweepIdle(0, idle);  // checkpoint at 0

  table.SweepIdle(40 * s, idle);  // checkpoint at 40 s
  table.Touch(busy);              // used after it
  BOOST_TEST(table.SweepIdle(80 * s - 1, idle) == 0u);
  std::size_t dropped = table.SweepIdle(80 * s, idle);

  BOOST_TEST(dropped == 1u);
  BOOST_TEST(Get("stale") == nullptr);
  BOOST_TEST(Get("busy") == busy);
}

BOOST_AUTO_TEST_CASE(SweepIdleKeepsOpenEntries) {
  const std::int64_t idle = absl::ToInt64Nanoseconds(absl::Seconds(8));
  Add("open")->breaker.Open(clock);
  table.SweepIdle(0, idle);

  std::size_t dropped = table.SweepIdle(100 * idle, idle);

  BOOST_TEST(dropped == 0u);
  BOOST_TEST(Get("open") != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

// Entry::ShortEquals compares inline keys in overlapping words: at every
// length a key fits inline, a difference in any one byte is seen, and equal
// bytes compare equal.
BOOST_DATA_TEST_CASE(ShortEqualsSeesEveryByte,
                     bdata::xrange(1, int{Entry::kInlineKey} + 1), n) {
  const std::string a(static_cast<std::size_t>(n), 'k');
  BOOST_TEST(Entry::ShortEquals(a.data(), std::string(a).data(), a.size()));
  for (int i = 0; i < n; ++i) {
    std::string b = a;
    b[static_cast<std::size_t>(i)] = 'x';
    BOOST_TEST_CONTEXT("length " << n << ", byte " << i) {
      BOOST_TEST(!Entry::ShortEquals(a.data(), b.data(), a.size()));
    }
  }
}
