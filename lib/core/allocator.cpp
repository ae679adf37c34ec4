#include "core/allocator.h"

#include <memory>

#ifdef HS3FIT_MIMALLOC
#include <mimalloc.h>
#endif

namespace hs3fit {

std::string allocator_name() {
#ifdef HS3FIT_MIMALLOC
  const int v = mi_version();  // e.g. 209
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10);
#else
  return "glibc malloc";
#endif
}

bool allocator_owns_new_blocks() {
#ifdef HS3FIT_MIMALLOC
  const auto block = std::make_unique<double[]>(16);
  return mi_is_in_heap_region(block.get());
#else
  return false;
#endif
}

}  // namespace hs3fit
