// Symbolization of native stacks, in the agent and never in the target: a trace holds raw return
// addresses and the target's module map (proto::NativeModules); this resolves an address to the
// function, file:line and the functions inlined there, with libdw (elfutils). One Dwfl per module
// file, cached for the life of the Symbolizer, and each resolved address cached per (module,
// offset), so a report over thousands of sites opens each ELF once. Node JIT frames (addresses
// outside every module) are named from /tmp/perf-PID.map when the target wrote one
// (--perf-basic-prof). Thread-safe (one mutex): the live analysis and a report may share it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tidemark/protocol.h"

namespace tidemark::model {

struct SymbolFrame {
    std::string function;  // demangled; "" when unknown
    std::string file;      // source file, "" when no line info
    int line = 0;
    std::string module;    // basename of the ELF file ("[jit]" for a perf-map frame)
    uint64_t address = 0;
    bool inlined = false;  // an inlined call inside the next frame's function

    // "function (file:line)", "function (module)", or "0x… (module)".
    std::string label() const;
    // "file:line" when known, else the label.
    std::string where() const;
};

class Symbolizer {
public:
    Symbolizer();
    ~Symbolizer();
    Symbolizer(const Symbolizer&) = delete;
    Symbolizer& operator=(const Symbolizer&) = delete;

    // The frames of one return address of a stack (innermost inlined frame first). `return_address`:
    // the address follows a call, so the call instruction itself (address - 1) is looked up.
    std::vector<SymbolFrame> resolve(const std::vector<proto::NativeModule>& modules, uint32_t pid, uint64_t address,
                                     bool return_address = true);
    // A whole stack, innermost first, inlined frames expanded.
    std::vector<SymbolFrame> resolve_stack(const std::vector<proto::NativeModule>& modules, uint32_t pid,
                                           const std::vector<uint64_t>& frames);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The process-wide symbolizer the detectors and reports use.
Symbolizer& shared_symbolizer();

// True for frames of the allocator and of the C/C++ runtime's allocating helpers (operator new,
// strdup, std::allocator…), which are not the code that decided to allocate.
bool is_allocator_frame(const SymbolFrame& f);

// A JIT frame of node (from the perf map) in the program's own JavaScript: its name carries a
// script path ("JS:*handler /srv/app.js:12:3"), not a node: builtin.
bool is_user_js_frame(const SymbolFrame& f);

// The frame a native site is attributed to: the innermost frame of the program's own JavaScript
// when the stack has one (a Buffer's bytes belong to the JS function that allocated them, not to
// node's C++ underneath), else the first frame that is not the allocator or the C/C++ runtime,
// else the innermost. nullptr for an empty stack.
const SymbolFrame* attribution_frame(const std::vector<SymbolFrame>& frames);

}  // namespace tidemark::model
