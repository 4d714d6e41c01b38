// The native parts of the reports: top allocation sites by live bytes (JSON `native`, the text
// report's section) and collapsed stacks for flame graphs (`report --format collapsed`). Frames are
// symbolized here, in the agent, from the trace's raw addresses and module maps.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "tidemark/model/detect/detectors.h"
#include "tidemark/model/native/symbols.h"
#include "tidemark/model/report/report.h"

namespace tidemark::model {

namespace {

const char* mode_name(proto::NativeMode m) {
    switch (m) {
        case proto::NativeMode::Full: return "full";
        case proto::NativeMode::Sampled: return "sampled";
        default: return "off";
    }
}

std::vector<const NativeSiteInfo*> top_sites(const Timeline& timeline, uint32_t proc, size_t n) {
    std::vector<const NativeSiteInfo*> v;
    for (const auto& s : timeline.native_sites())
        if (s.proc == proc && (s.latest.live_bytes() > 0 || s.peak_live_bytes > 0)) v.push_back(&s);
    std::sort(v.begin(), v.end(), [](const NativeSiteInfo* a, const NativeSiteInfo* b) {
        if (a->latest.live_bytes() != b->latest.live_bytes()) return a->latest.live_bytes() > b->latest.live_bytes();
        return a->peak_live_bytes > b->peak_live_bytes;
    });
    if (v.size() > n) v.resize(n);
    return v;
}

uint32_t pid_of(const Timeline& timeline, uint32_t proc) {
    const ProcessInfo* p = timeline.process(proc);
    return p ? p->pid : 0;
}

const SymbolFrame* first_user_frame(const std::vector<SymbolFrame>& frames) { return attribution_frame(frames); }

// native-leak judges a site on the points of its live-bytes series (one per change) and wants at
// least DetectorOptions::native_min_points: in sampled mode a short recording of a modest leak
// can have fewer, and then "No findings" must not read as "no leak".
const size_t kJudgedPoints = DetectorOptions{}.native_min_points;

bool too_few_to_judge(const NativeProcessInfo& np, const NativeSiteInfo& s) {
    return np.mode == proto::NativeMode::Sampled && s.has_series && s.latest.live_bytes() > 0 && s.series.size() < kJudgedPoints;
}

}  // namespace

nlohmann::json native_json(const Timeline& timeline, size_t top) {
    nlohmann::json out = nlohmann::json::array();
    for (const NativeProcessInfo& np : timeline.native_processes()) {
        const uint32_t pid = pid_of(timeline, np.proc);
        nlohmann::json sites = nlohmann::json::array();
        for (const NativeSiteInfo* s : top_sites(timeline, np.proc, top)) {
            const auto frames = shared_symbolizer().resolve_stack(np.modules, pid, s->frames);
            nlohmann::json labels = nlohmann::json::array();
            for (size_t i = 0; i < frames.size() && i < 16; ++i) labels.push_back(frames[i].label());
            const SymbolFrame* user = first_user_frame(frames);
            sites.push_back({{"site", s->site},
                             {"location", user ? nlohmann::json(user->label()) : nlohmann::json(nullptr)},
                             {"live_bytes", s->latest.live_bytes()},
                             {"peak_live_bytes", s->peak_live_bytes},
                             {"live_allocations", s->latest.allocs > s->latest.frees ? s->latest.allocs - s->latest.frees : 0},
                             {"allocations", s->latest.allocs},
                             {"frees", s->latest.frees},
                             {"alloc_bytes", s->latest.alloc_bytes},
                             {"freed_bytes", s->latest.freed_bytes},
                             {"series_points", s->series.size()},
                             {"too_few_samples", too_few_to_judge(np, *s)},
                             {"frames", labels}});
        }
        const auto& st = np.status;
        out.push_back({{"proc", np.proc},
                       {"pid", pid},
                       {"mode", mode_name(np.mode)},
                       {"sample_interval_bytes", np.sample_interval_bytes},
                       {"live_bytes", st ? st->live_bytes : 0},
                       {"peak_live_bytes", np.peak_live_bytes},
                       {"mmap_bytes", st ? st->mmap_bytes : 0},
                       {"munmap_bytes", st ? st->munmap_bytes : 0},
                       {"mmap_calls", st ? st->mmap_calls : 0},
                       {"untracked_allocations", st ? st->untracked : 0},
                       {"sites", st ? st->sites : 0},
                       {"top_sites", sites}});
    }
    return out;
}

std::string native_sites_text(const Timeline& timeline, size_t top) {
    std::ostringstream out;
    for (const NativeProcessInfo& np : timeline.native_processes()) {
        const uint32_t pid = pid_of(timeline, np.proc);
        const auto sites = top_sites(timeline, np.proc, top);
        int unjudged = 0;
        out << "\nNative allocation sites of pid " << pid << " (" << mode_name(np.mode);
        if (np.mode == proto::NativeMode::Sampled) out << ", estimates from samples every ~" << format_bytes(static_cast<double>(np.sample_interval_bytes));
        out << "; live now " << format_bytes(static_cast<double>(np.status ? np.status->live_bytes : 0)) << ", peak "
            << format_bytes(static_cast<double>(np.peak_live_bytes)) << "), by live bytes:\n";
        for (const NativeSiteInfo* s : sites) {
            const auto frames = shared_symbolizer().resolve_stack(np.modules, pid, s->frames);
            const SymbolFrame* user = first_user_frame(frames);
            char line[128];
            std::snprintf(line, sizeof line, "  %10s live (peak %s)  ", format_bytes(static_cast<double>(s->latest.live_bytes())).c_str(),
                          format_bytes(static_cast<double>(s->peak_live_bytes)).c_str());
            out << line << (user ? user->label() : std::string("?"));
            if (too_few_to_judge(np, *s)) {
                ++unjudged;
                out << "  (" << s->series.size() << " sampled change" << (s->series.size() == 1 ? "" : "s")
                    << ": too few to judge whether it grows)";
            }
            out << "\n";
        }
        if (unjudged)
            out << "  Sites marked too few were sampled fewer than " << kJudgedPoints
                << " times: record longer, or sample more often with --native-sample-interval, to judge them.\n";
    }
    return out.str();
}

std::string report_collapsed(const Timeline& timeline) {
    std::string out;
    const bool several = timeline.native_processes().size() > 1;
    for (const NativeProcessInfo& np : timeline.native_processes()) {
        const uint32_t pid = pid_of(timeline, np.proc);
        for (const NativeSiteInfo& s : timeline.native_sites()) {
            if (s.proc != np.proc || s.latest.live_bytes() == 0) continue;
            const auto frames = shared_symbolizer().resolve_stack(np.modules, pid, s.frames);
            std::string line = several ? "pid " + std::to_string(pid) : std::string();
            for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
                std::string name = it->function;
                if (name.empty()) {
                    char addr[32];
                    std::snprintf(addr, sizeof addr, "0x%llx", static_cast<unsigned long long>(it->address));
                    name = std::string(addr) + (it->module.empty() ? "" : " [" + it->module + "]");
                }
                for (char& c : name)
                    if (c == ';' || c == '\n') c = ',';
                if (!line.empty()) line += ';';
                line += name;
            }
            out += line + " " + std::to_string(s.latest.live_bytes()) + "\n";
        }
    }
    return out;
}

}  // namespace tidemark::model
