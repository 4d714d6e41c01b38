// Symbolizer: libdw lookups with per-module and per-address caches (symbols.h).
#include "tidemark/model/native/symbols.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace tidemark::model {

namespace {

std::string demangle(const char* name) {
    if (!name) return {};
    int status = 0;
    char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    if (status == 0 && out) {
        std::string s(out);
        std::free(out);
        return s;
    }
    std::free(out);
    return name;
}

std::string basename_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

const Dwfl_Callbacks kCallbacks = {
    dwfl_build_id_find_elf,
    dwfl_standard_find_debuginfo,
    dwfl_offline_section_address,
    nullptr,
};

// One ELF file reported at bias 0: lookups take file-relative addresses (address - load_bias).
struct ModuleFile {
    Dwfl* dwfl = nullptr;
    Dwfl_Module* module = nullptr;
    std::unordered_map<uint64_t, std::vector<SymbolFrame>> cache;  // offset → frames
    ~ModuleFile() {
        if (dwfl) dwfl_end(dwfl);
    }
};

std::string die_name(Dwarf_Die* die) {
    Dwarf_Attribute attr;
    const char* linkage = nullptr;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) || dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
        linkage = dwarf_formstring(&attr);
    if (linkage) return demangle(linkage);
    const char* name = dwarf_diename(die);
    if (!name) {
        Dwarf_Die origin;
        if (dwarf_attr_integrate(die, DW_AT_abstract_origin, &attr) && dwarf_formref_die(&attr, &origin))
            name = dwarf_diename(&origin);
    }
    return name ? name : "";
}

struct PerfMap {
    struct Entry {
        uint64_t start, size;
        std::string name;
    };
    std::vector<Entry> entries;  // sorted by start
    size_t loaded_bytes = 0;
};

}  // namespace

struct Symbolizer::Impl {
    std::mutex mu;
    std::map<std::string, std::unique_ptr<ModuleFile>> files;
    std::map<uint32_t, PerfMap> perf_maps;

    ModuleFile* open(const std::string& path) {
        auto [it, inserted] = files.try_emplace(path);
        if (!inserted) return it->second.get();
        auto mf = std::make_unique<ModuleFile>();
        if (!path.empty() && path[0] == '/') {
            mf->dwfl = dwfl_begin(&kCallbacks);
            if (mf->dwfl) {
                dwfl_report_begin(mf->dwfl);
                mf->module = dwfl_report_offline(mf->dwfl, basename_of(path).c_str(), path.c_str(), -1);
                dwfl_report_end(mf->dwfl, nullptr, nullptr);
            }
        }
        it->second = std::move(mf);
        return it->second.get();
    }

    // The perf map of a node process (re-read when it grew: JIT code keeps being added).
    const PerfMap& perf_map(uint32_t pid) {
        PerfMap& m = perf_maps[pid];
        const std::string path = "/tmp/perf-" + std::to_string(pid) + ".map";
        std::ifstream in(path);
        if (!in) return m;
        in.seekg(0, std::ios::end);
        const auto size = static_cast<size_t>(in.tellg());
        if (size == m.loaded_bytes) return m;
        in.seekg(0);
        m.entries.clear();
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            std::string start, len;
            if (!(ls >> start >> len)) continue;
            std::string name;
            std::getline(ls, name);
            if (!name.empty() && name[0] == ' ') name.erase(0, 1);
            m.entries.push_back({std::strtoull(start.c_str(), nullptr, 16), std::strtoull(len.c_str(), nullptr, 16), name});
        }
        std::sort(m.entries.begin(), m.entries.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
        m.loaded_bytes = size;
        return m;
    }

    std::vector<SymbolFrame> lookup(ModuleFile& mf, const std::string& module_name, uint64_t offset, uint64_t address) {
        auto cached = mf.cache.find(offset);
        if (cached != mf.cache.end()) return cached->second;
        std::vector<SymbolFrame> out;
        SymbolFrame base;
        base.module = module_name;
        base.address = address;
        if (mf.module) {
            Dwfl_Module* m = mf.module;
            Dwarf_Addr bias = 0;
            // Module start as reported (bias 0 for offline ELF of ET_DYN; ET_EXEC keeps its vaddrs).
            Dwarf_Addr start = 0;
            dwfl_module_info(m, nullptr, &start, nullptr, nullptr, nullptr, nullptr, nullptr);
            const Dwarf_Addr a = start + offset;
            if (const char* sym = dwfl_module_addrname(m, a)) base.function = demangle(sym);
            if (Dwfl_Line* line = dwfl_module_getsrc(m, a)) {
                int lineno = 0;
                if (const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr)) {
                    base.file = file;
                    base.line = lineno;
                }
            }
            // Inlined frames: the scopes at the address, innermost first.
            if (Dwarf_Die* cu = dwfl_module_addrdie(m, a, &bias)) {
                Dwarf_Die* scopes = nullptr;
                int n = dwarf_getscopes(cu, a - bias, &scopes);
                Dwarf_Files* src_files = nullptr;
                size_t nfiles = 0;
                dwarf_getsrcfiles(cu, &src_files, &nfiles);
                std::string file = base.file;
                int line = base.line;
                // Scopes innermost first. dwarf_getscopes continues past an inlined instance into
                // its abstract origin's scopes (for a static inline function: straight to the CU),
                // so after each inlined call the walk restarts from that instance's concrete
                // parents (dwarf_getscopes_die), which lead to the function it was inlined into.
                for (int depth = 0, i = 0; i < n && depth < 64;) {
                    const int tag = dwarf_tag(&scopes[i]);
                    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) {
                        ++i;
                        continue;
                    }
                    SymbolFrame f = base;
                    f.function = die_name(&scopes[i]);
                    if (f.function.empty()) f.function = base.function;
                    f.file = file;
                    f.line = line;
                    f.inlined = tag == DW_TAG_inlined_subroutine;
                    out.push_back(f);
                    if (tag == DW_TAG_subprogram) break;
                    // The caller's position is this inlined call's site.
                    Dwarf_Attribute attr;
                    Dwarf_Word v = 0;
                    if (dwarf_attr(&scopes[i], DW_AT_call_file, &attr) && dwarf_formudata(&attr, &v) == 0 && src_files)
                        if (const char* cf = dwarf_filesrc(src_files, v, nullptr, nullptr)) file = cf;
                    if (dwarf_attr(&scopes[i], DW_AT_call_line, &attr) && dwarf_formudata(&attr, &v) == 0)
                        line = static_cast<int>(v);
                    Dwarf_Die* parents = nullptr;
                    const int np = dwarf_getscopes_die(&scopes[i], &parents);
                    std::free(scopes);
                    scopes = parents;
                    n = np;
                    i = 1;  // parents[0] is the inlined instance itself
                    ++depth;
                }
                std::free(scopes);
                // An inlined call whose enclosing function was not found: the symbol table's
                // function, at the call's position.
                if (!out.empty() && out.back().inlined && !base.function.empty() && out.back().function != base.function) {
                    SymbolFrame f = base;
                    f.file = file;
                    f.line = line;
                    out.push_back(f);
                }
            }
        }
        if (out.empty()) out.push_back(base);
        mf.cache.emplace(offset, out);
        return out;
    }
};

Symbolizer::Symbolizer() : impl_(std::make_unique<Impl>()) {}
Symbolizer::~Symbolizer() = default;

std::vector<SymbolFrame> Symbolizer::resolve(const std::vector<proto::NativeModule>& modules, uint32_t pid,
                                             uint64_t address, bool return_address) {
    const uint64_t a = return_address && address > 0 ? address - 1 : address;
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& m : modules) {
        if (a < m.start || a >= m.end) continue;
        ModuleFile* mf = impl_->open(m.path);
        auto frames = impl_->lookup(*mf, basename_of(m.path), a - m.load_bias, address);
        for (auto& f : frames) f.address = address;
        return frames;
    }
    SymbolFrame f;
    f.address = address;
    const PerfMap& pm = impl_->perf_map(pid);
    auto it = std::upper_bound(pm.entries.begin(), pm.entries.end(), a,
                               [](uint64_t x, const PerfMap::Entry& e) { return x < e.start; });
    if (it != pm.entries.begin()) {
        --it;
        if (a < it->start + it->size) {
            f.function = it->name;
            f.module = "[jit]";
        }
    }
    return {f};
}

std::vector<SymbolFrame> Symbolizer::resolve_stack(const std::vector<proto::NativeModule>& modules, uint32_t pid,
                                                   const std::vector<uint64_t>& frames) {
    std::vector<SymbolFrame> out;
    for (uint64_t a : frames) {
        auto f = resolve(modules, pid, a, true);
        out.insert(out.end(), f.begin(), f.end());
    }
    return out;
}

std::string SymbolFrame::label() const {
    char addr[32];
    std::snprintf(addr, sizeof addr, "0x%llx", static_cast<unsigned long long>(address));
    const std::string fn = function.empty() ? addr : function;
    if (!file.empty()) return fn + " (" + basename_of(file) + ":" + std::to_string(line) + ")";
    return fn + (module.empty() ? "" : " (" + module + ")");
}

std::string SymbolFrame::where() const {
    if (!file.empty()) return file + ":" + std::to_string(line);
    return label();
}

Symbolizer& shared_symbolizer() {
    static Symbolizer s;
    return s;
}

bool is_allocator_frame(const SymbolFrame& f) {
    const std::string& fn = f.function;
    if (fn.rfind("operator new", 0) == 0 || fn.rfind("operator delete", 0) == 0) return true;
    if (fn.rfind("std::", 0) == 0 || fn.rfind("__gnu_cxx::", 0) == 0) return true;  // containers, allocators
    if (fn.rfind("_dl_", 0) == 0 || fn.rfind("__libc_", 0) == 0) return true;
    if (f.module.rfind("libc.so", 0) == 0 || f.module.rfind("libstdc++.so", 0) == 0 || f.module.rfind("ld-linux", 0) == 0)
        return true;
    return false;
}

}  // namespace tidemark::model

namespace tidemark::model {

bool is_user_js_frame(const SymbolFrame& f) {
    if (f.module != "[jit]") return false;
    const std::string& n = f.function;
    if (n.find(" node:") != std::string::npos) return false;
    return n.find(" /") != std::string::npos || n.find(" file://") != std::string::npos;
}

namespace {

// node's own C++ (the executable: node, nodejs, node20…) and the C/C++ runtime under it.
bool is_node_runtime_frame(const SymbolFrame& f) {
    const std::string& m = f.module;
    if (m.rfind("node", 0) == 0 && m.find(".node") == std::string::npos) return true;
    return m.rfind("libc.so", 0) == 0 || m.rfind("libstdc++", 0) == 0 || m.rfind("libm.so", 0) == 0 ||
           m.rfind("libuv", 0) == 0 || m.rfind("ld-linux", 0) == 0;
}

}  // namespace

const SymbolFrame* attribution_frame(const std::vector<SymbolFrame>& frames) {
    const bool node = std::any_of(frames.begin(), frames.end(), [](const SymbolFrame& f) { return f.module == "[jit]"; });
    if (node) {
        // A node stack: the first frame that is neither the allocator, node's own C++ and V8, nor
        // a node: builtin — an addon's code or the program's JavaScript. Failing that, the
        // innermost JS frame (a builtin into which TurboFan inlined the program's function).
        for (const auto& f : frames) {
            if (is_allocator_frame(f) || is_node_runtime_frame(f) || (f.module.empty() && f.function.empty())) continue;
            if (f.module == "[jit]" && !is_user_js_frame(f)) continue;
            return &f;
        }
        for (const auto& f : frames)
            if (f.module == "[jit]") return &f;
    }
    for (const auto& f : frames)
        if (!is_allocator_frame(f)) return &f;
    return frames.empty() ? nullptr : &frames.front();
}

}  // namespace tidemark::model
