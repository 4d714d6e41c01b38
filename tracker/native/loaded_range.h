// The address range an object's PT_LOAD segments span once loaded (the sampler's module map, the
// attach's slot bookkeeping). Header-only, allocation-free: callable from a dl_iterate_phdr
// callback inside the tracker.
#pragma once

#include <link.h>

#include <cstdint>

namespace tidemark::native {

// [lo, hi) of `info`'s loaded segments; hi == 0 when it has none.
inline void loaded_range(const dl_phdr_info* info, uintptr_t& lo, uintptr_t& hi) {
    lo = UINTPTR_MAX;
    hi = 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD) continue;
        const uintptr_t a = info->dlpi_addr + ph.p_vaddr;
        if (a < lo) lo = a;
        if (a + ph.p_memsz > hi) hi = a + ph.p_memsz;
    }
}

}  // namespace tidemark::native
