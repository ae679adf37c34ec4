// Which memory allocator serves malloc/new in this build: mimalloc (linked by default, see
// CMakeLists.txt: loading a workspace makes ~1 allocation per modifier, and glibc's malloc spent
// a third of a small workspace's load in its free lists) or the C library's (sanitizer builds).
#pragma once
#include <string>

namespace hs3fit {

// "mimalloc 2.0.9" or "glibc malloc".
std::string allocator_name();

// True when a block from operator new is mimalloc's (the override is in effect).
bool allocator_owns_new_blocks();

}  // namespace hs3fit
