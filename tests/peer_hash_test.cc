// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The peer id hash (src/peer_hash.h): a function of the bytes, every byte
// counts at every length, and its high bits (the table's home slot) and low
// bits (the slot's tag) spread real-looking ids evenly.

#include "peer_hash.h"

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "absl/strings/str_format.h"

using circuit::internal::PeerHash;

namespace {

// Ids as a pool names its peers.
std::vector<std::string> Ids(int n) {
  std::vector<std::string> ids;
  ids.reserve(n);
  for (int i = 0; i < n; ++i) ids.push_back(absl::StrFormat("svc-%06d.local", i));
  return ids;
}

// Whether the hashes of `ids`, put in `buckets` buckets by `bucket_of`,
// fill every bucket to between half and twice the mean (with 100k ids in
// 256 buckets, a random function misses that once in about 10^20).
template <class F>
bool Even(const std::vector<std::string>& ids, int buckets, F bucket_of) {
  std::vector<int> count(buckets);
  for (const std::string& id : ids) ++count[bucket_of(PeerHash(id))];
  const double mean = static_cast<double>(ids.size()) / buckets;
  for (int c : count) {
    if (c < mean / 2 || c > mean * 2) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(PeerHashTest)

BOOST_AUTO_TEST_CASE(IsAFunctionOfTheBytes) {
  const std::string a = "10.0.0.1:8080";
  const std::string b(a.data(), a.size());

  BOOST_TEST(PeerHash(a) == PeerHash(b));
  BOOST_TEST(PeerHash(std::string(a) + "x") != PeerHash(a));
}

// At every length from 0 to 70 (the short paths, exactly 8 and 16 bytes,
// and several 16-byte rounds), changing any one byte changes the hash.
BOOST_AUTO_TEST_CASE(EveryByteCountsAtEveryLength) {
  int unchanged = 0;
  for (std::size_t n = 1; n <= 70; ++n) {
    std::string key(n, 'a');
    for (std::size_t i = 0; i < n; ++i) key[i] = static_cast<char>('a' + i % 26);
    const std::uint64_t h = PeerHash(key);
    for (std::size_t i = 0; i < n; ++i) {
      std::string changed = key;
      changed[i] = static_cast<char>(changed[i] ^ 0x01);
      if (PeerHash(changed) == h) ++unchanged;
    }
  }
  BOOST_TEST(unchanged == 0);
}

// Bytes equal as far as the shorter goes: the length tells them apart.
BOOST_AUTO_TEST_CASE(TheLengthCounts) {
  std::unordered_set<std::uint64_t> seen;
  for (std::size_t n = 0; n <= 40; ++n) {
    BOOST_TEST(seen.insert(PeerHash(std::string(n, '\0'))).second, "length " << n);
  }
}

BOOST_AUTO_TEST_CASE(HundredThousandIdsDoNotCollide) {
  std::unordered_set<std::uint64_t> seen;
  for (const std::string& id : Ids(100000)) seen.insert(PeerHash(id));
  BOOST_TEST(seen.size() == 100000u);
}

BOOST_AUTO_TEST_CASE(HighBitsSpreadIdsEvenly) {
  // The table's home slot: hash * capacity / 2^64.
  BOOST_TEST(Even(Ids(100000), 256, [](std::uint64_t h) {
    return static_cast<int>(h >> 56);
  }));
}

BOOST_AUTO_TEST_CASE(LowBitsSpreadIdsEvenly) {
  // The slot's tag, bits 0 to 14.
  BOOST_TEST(Even(Ids(100000), 256, [](std::uint64_t h) {
    return static_cast<int>(h & 255);
  }));
  BOOST_TEST(Even(Ids(100000), 256, [](std::uint64_t h) {
    return static_cast<int>((h >> 7) & 255);
  }));
}

BOOST_AUTO_TEST_SUITE_END()
