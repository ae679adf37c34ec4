// A fast hash of modifier/parameter names for the load path's hash tables (names are hashed
// for every modifier of a workspace): 8 bytes per step instead of std::hash's byte-oriented
// murmur. Only bucket placement depends on it; no output order does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace hs3fit::pyhf {

inline size_t name_hash(std::string_view s) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  if (i < s.size()) std::memcpy(&w, s.data() + i, s.size() - i);
  h ^= w;
  // MurmurHash3's fmix64: every input bit reaches the low bits (tables mask them).
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return static_cast<size_t>(h);
}

struct NameHash {
  size_t operator()(std::string_view s) const { return name_hash(s); }
};

}  // namespace hs3fit::pyhf
