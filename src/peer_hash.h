// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The hash of a peer id, as the peer table keys it.
//
// Every admission by peer id hashes the id, so the hash is inline and made
// for what peer ids are: short strings (a host:port, a pod name). Up to 16
// bytes it is two (overlapping) 8-byte loads and one 64x64->128-bit
// multiply, folded to 64 bits by xoring its halves; longer ids take one
// more multiply per 16 bytes. absl::Hash, which the table used before,
// costs an out-of-line call and about three times the instructions.
//
// The seed is the address of a global, different in each process when the
// library is loaded at a random address (ASLR), so that which ids collide
// cannot be known in advance: hash flooding needs it. Hashes are never
// stored outside the process, and a forked child keeps the parent's.

#ifndef CIRCUIT_SRC_PEER_HASH_H_
#define CIRCUIT_SRC_PEER_HASH_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace circuit::internal {

namespace peer_hash_detail {
// Its address is the seed (see the file comment).
extern const char kSeedAnchor;

inline std::uint64_t Load8(const char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint64_t Load4(const char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
// The 128-bit product of `a` and `b`, its halves xored: every bit of the
// result depends on every bit of both (unless one of them is 0).
inline std::uint64_t Fold(std::uint64_t a, std::uint64_t b) noexcept {
  __extension__ using U128 = unsigned __int128;
  const U128 p = static_cast<U128>(a) * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}
// Odd constants with about half their bits set.
inline constexpr std::uint64_t kK0 = 0xa0761d6478bd642full;
inline constexpr std::uint64_t kK1 = 0xe7037ed1a0b428dbull;
inline constexpr std::uint64_t kK2 = 0x8ebc6af09c88c6e3ull;
}  // namespace peer_hash_detail

// PeerHash()
//
// The hash of `key`: equal for equal bytes; good in its high bits (the
// table's home slot) and in its low bits (the slot's tag).
inline std::uint64_t PeerHash(std::string_view key) noexcept {
  using namespace peer_hash_detail;
  const char* p = key.data();
  const std::size_t n = key.size();
  const std::uint64_t seed =
      reinterpret_cast<std::uintptr_t>(&kSeedAnchor) * kK2;
  std::uint64_t a, b;
  std::uint64_t s = seed;
  if (n >= 8) [[likely]] {
    if (n > 16) [[unlikely]] {
      std::size_t i = 0;
      for (; i + 16 < n; i += 16) {
        s = Fold(Load8(p + i) ^ kK0, Load8(p + i + 8) ^ s);
      }
    }
    a = Load8(p + (n > 16 ? n - 16 : 0));
    b = Load8(p + n - 8);
  } else if (n >= 4) {
    a = Load4(p);
    b = Load4(p + n - 4);
  } else {
    // 0 to 3 bytes: each one in its own byte of `a`.
    a = n == 0 ? 0
               : (std::uint64_t{static_cast<unsigned char>(p[0])} << 16) |
                     (std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
                     static_cast<unsigned char>(p[n - 1]);
    b = 0;
  }
  // One fold: every bit of the result depends on every bit of both words.
  // Each word is masked with the seed, so which word would zero its side
  // of the product is not known in advance.
  return Fold(a ^ s ^ kK0, b ^ n ^ kK1 ^ std::rotl(seed, 32));
}

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_PEER_HASH_H_
