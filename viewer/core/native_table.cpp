#include "core/native_table.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <tuple>

#include "tidemark/model/util/stats.h"

namespace tidemark::viewer {

namespace {

bool contains_ci(const std::string& hay, const std::string& needle) {
    if (needle.empty()) return true;
    auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
    return it != hay.end();
}

uint64_t live_allocations(const proto::NativeSiteCounters& c) { return c.allocs > c.frees ? c.allocs - c.frees : 0; }

// The most live bytes of `series` at or before t.
uint64_t peak_until(const std::vector<model::NativePoint>& series, double t) {
    uint64_t peak = 0;
    for (const model::NativePoint& p : series) {
        if (p.t_s > t) break;
        peak = std::max({peak, p.live_bytes, p.max_live_bytes});
    }
    return peak;
}

}  // namespace

// ---- the analysis's series ---------------------------------------------------------------------

const NativeSiteHistory* NativeHistory::find(uint32_t proc, uint32_t site) const {
    auto it = std::lower_bound(sites.begin(), sites.end(), std::make_pair(proc, site), [](const NativeSiteHistory& h, const auto& key) {
        return std::make_pair(h.proc, h.site) < key;
    });
    return it != sites.end() && it->proc == proc && it->site == site ? &*it : nullptr;
}

std::shared_ptr<const NativeHistory> native_history(const model::Timeline& analysis) {
    if (analysis.native_processes().empty()) return nullptr;
    auto h = std::make_shared<NativeHistory>();
    for (const model::NativeSiteInfo& s : analysis.native_sites()) {
        if (!s.has_series || s.series.empty()) continue;
        h->sites.push_back({s.proc, s.site, s.peak_live_bytes, s.series});
    }
    std::sort(h->sites.begin(), h->sites.end(),
              [](const NativeSiteHistory& a, const NativeSiteHistory& b) { return std::tie(a.proc, a.site) < std::tie(b.proc, b.site); });
    return h;
}

uint64_t native_history_fingerprint(const model::Timeline& analysis) {
    // FNV-1a over what changes when a series changes: its length, last point and peak.
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t x) {
        h ^= x;
        h *= 1099511628211ull;
    };
    mix(analysis.native_processes().size());
    for (const model::NativeSiteInfo& s : analysis.native_sites()) {
        if (!s.has_series || s.series.empty()) continue;
        mix(s.proc);
        mix(s.site);
        mix(s.series.size());
        mix(static_cast<uint64_t>(s.series.back().t_s * 1e6));
        mix(s.series.back().live_bytes);
        mix(static_cast<uint64_t>(s.series.front().t_s * 1e6));
        mix(s.peak_live_bytes);
    }
    return h;
}

// ---- symbols -------------------------------------------------------------------------------------

NativeSymbolCache::NativeSymbolCache()
    : NativeSymbolCache([](const std::vector<proto::NativeModule>& modules, uint32_t pid, const std::vector<uint64_t>& frames) {
          return model::shared_symbolizer().resolve_stack(modules, pid, frames);
      }) {}

NativeSymbolCache::NativeSymbolCache(Resolver resolver) : resolver_(std::move(resolver)) {}

std::string NativeSymbolCache::location(const std::vector<proto::NativeModule>& modules, uint32_t pid,
                                        const model::NativeSiteInfo& s) {
    // A site whose stack has not arrived yet is not cached: it is looked up again next time.
    if (s.frames.empty()) return "(no stack yet)";
    auto key = std::make_pair(s.proc, s.site);
    if (auto it = locations_.find(key); it != locations_.end()) return it->second;
    if (locations_.size() >= kMaxEntries) locations_.clear();
    const auto frames = resolver_(modules, pid, s.frames);
    ++resolved_;
    const model::SymbolFrame* user = model::attribution_frame(frames);
    return locations_.emplace(key, user ? user->label() : std::string("(no frames)")).first->second;
}

std::vector<std::string> NativeSymbolCache::stack(const std::vector<proto::NativeModule>& modules, uint32_t pid,
                                                  const std::vector<uint64_t>& frames) {
    std::vector<std::string> out;
    if (frames.empty()) return out;
    for (const model::SymbolFrame& f : resolver_(modules, pid, frames)) out.push_back(f.label());
    return out;
}

// ---- figures -------------------------------------------------------------------------------------

std::optional<double> native_growth(const std::vector<model::NativePoint>& series, double t, uint64_t now_bytes,
                                    double window_s, size_t max_points) {
    const double from = t - window_s;
    std::vector<model::stats::TimePoint> pts;
    // The value holding at the window's start (the last point at or before it)…
    auto first_inside = std::upper_bound(series.begin(), series.end(), from,
                                         [](double x, const model::NativePoint& p) { return x < p.t_s; });
    if (first_inside != series.begin()) pts.push_back({from, static_cast<double>(std::prev(first_inside)->live_bytes)});
    // …the points inside it, and the value at t.
    for (auto it = first_inside; it != series.end() && it->t_s < t; ++it) pts.push_back({it->t_s, static_cast<double>(it->live_bytes)});
    if (pts.empty()) return std::nullopt;
    pts.push_back({t, static_cast<double>(now_bytes)});
    if (pts.back().t_s - pts.front().t_s < 0.05) return std::nullopt;
    if (pts.size() == 2) return (pts[1].value - pts[0].value) / (pts[1].t_s - pts[0].t_s);
    auto est = model::stats::theil_sen(pts, 0.95, max_points);
    if (!est) return std::nullopt;
    return est->slope;
}

Series native_series(const std::vector<model::NativePoint>& series, double t_max, size_t max_points) {
    Series out;
    size_t n = 0;
    while (n < series.size() && series[n].t_s <= t_max) ++n;
    if (n == 0) return out;
    const size_t per = max_points ? (n + max_points - 1) / max_points : 1;
    for (size_t i = 0; i < n; i += per) {
        const size_t end = std::min(n, i + per);
        double lo = static_cast<double>(series[i].live_bytes), hi = lo;
        for (size_t k = i; k < end; ++k) {
            lo = std::min(lo, static_cast<double>(series[k].live_bytes));
            hi = std::max({hi, static_cast<double>(series[k].live_bytes), static_cast<double>(series[k].max_live_bytes)});
        }
        out.push(series[end - 1].t_s, lo, hi, static_cast<double>(series[end - 1].live_bytes));
    }
    return out;
}

const char* native_mode_name(proto::NativeMode m) {
    switch (m) {
        case proto::NativeMode::Full: return "full";
        case proto::NativeMode::Sampled: return "sampled";
        default: return "off";
    }
}

std::optional<uint32_t> finding_native_site(const model::Finding& f) {
    if (f.kind != model::FindingKind::NativeLeak) return std::nullopt;
    for (const auto& [k, v] : f.evidence)
        if (k == "site" && v >= 0) return static_cast<uint32_t>(v);
    return std::nullopt;
}

std::vector<std::pair<uint32_t, int>> flagged_native_sites(const std::vector<model::Finding>& findings) {
    std::vector<std::pair<uint32_t, int>> out;
    for (const model::Finding& f : findings) {
        auto site = finding_native_site(f);
        if (!site) continue;
        int sev = static_cast<int>(f.severity);
        auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == *site; });
        if (it == out.end()) out.emplace_back(*site, sev);
        else it->second = std::max(it->second, sev);  // Severity: Error = 2 is the highest
    }
    std::sort(out.begin(), out.end());
    return out;
}

// ---- the table ---------------------------------------------------------------------------------

const NativeProcessRow* NativeTableModel::process(uint32_t proc) const {
    for (const NativeProcessRow& p : processes_)
        if (p.proc == proc) return &p;
    return nullptr;
}

std::shared_ptr<const NativeTableModel> NativeTableModel::build(NativeInputs in, const NativeSpec& spec, NativeSymbolCache& cache) {
    auto m = std::make_shared<NativeTableModel>();
    m->inputs_ = std::make_shared<const NativeInputs>(std::move(in));
    m->spec_ = spec;
    auto rows = std::make_shared<std::vector<NativeRow>>();
    const NativeInputs& inputs = *m->inputs_;
    if (const model::Timeline* tl = inputs.at_cursor.get()) {
        for (const model::NativeProcessInfo& np : tl->native_processes()) {
            NativeProcessRow p;
            p.proc = np.proc;
            if (const model::ProcessInfo* pi = tl->process(np.proc)) {
                p.pid = pi->pid;
                p.cmdline = pi->cmdline;
            }
            p.mode = np.mode;
            p.sample_interval_bytes = np.sample_interval_bytes;
            if (np.status) {
                p.live_bytes = np.status->live_bytes;
                p.sites = np.status->sites;
                p.untracked = np.status->untracked;
                p.mmap_bytes = np.status->mmap_bytes;
                p.munmap_bytes = np.status->munmap_bytes;
            }
            m->processes_.push_back(std::move(p));
        }
        for (const model::NativeSiteInfo& s : tl->native_sites()) {
            const model::NativeProcessInfo* np = tl->native_process(s.proc);
            const NativeProcessRow* pr = m->process(s.proc);
            if (!np || !pr) continue;
            NativeRow r;
            r.proc = s.proc;
            r.pid = pr->pid;
            r.site = s.site;
            r.location = cache.location(np->modules, pr->pid, s);
            r.live_bytes = s.latest.live_bytes();
            r.live_allocations = live_allocations(s.latest);
            r.total_allocated = s.latest.alloc_bytes;
            r.allocations = s.latest.allocs;
            r.estimate = np->mode == proto::NativeMode::Sampled;
            // The analysis's whole-trace series when it keeps one for the site, else the state's
            // (its points since the keyframe the cursor decoded from).
            const NativeSiteHistory* h = inputs.history ? inputs.history->find(s.proc, s.site) : nullptr;
            const std::vector<model::NativePoint>& series = h && !h->series.empty() && h->series.front().t_s <= inputs.t_s ? h->series : s.series;
            r.peak_live_bytes = std::max({s.peak_live_bytes, r.live_bytes, h ? peak_until(h->series, inputs.t_s) : 0});
            r.growth_bytes_per_s = native_growth(series, inputs.t_s, r.live_bytes, kGrowthWindowS, kGrowthMaxPoints);
            auto f = std::lower_bound(inputs.flagged.begin(), inputs.flagged.end(), std::make_pair(s.site, -1));
            if (f != inputs.flagged.end() && f->first == s.site) r.severity = f->second;
            rows->push_back(std::move(r));
        }
    }
    m->all_ = std::move(rows);
    m->sort_and_filter();
    m->select(cache);
    return m;
}

std::shared_ptr<const NativeTableModel> NativeTableModel::respecified(const std::shared_ptr<const NativeTableModel>& base,
                                                                      const NativeSpec& spec, NativeSymbolCache& cache) {
    auto m = std::make_shared<NativeTableModel>();
    m->inputs_ = base->inputs_;
    m->all_ = base->all_;
    m->processes_ = base->processes_;
    m->spec_ = spec;
    const NativeSpec& was = base->spec_;
    if (was.sort == spec.sort && was.descending == spec.descending && was.filter == spec.filter && was.proc == spec.proc) {
        m->visible_ = base->visible_;
        m->matching_ = base->matching_;
    } else {
        m->sort_and_filter();
    }
    if (was.selected == spec.selected && was.selected_proc == spec.selected_proc && was.selected_site == spec.selected_site &&
        was.selected_hint == spec.selected_hint)
        m->selection_ = base->selection_;
    else m->select(cache);
    return m;
}

void NativeTableModel::sort_and_filter() {
    visible_.clear();
    for (const NativeRow& r : *all_) {
        if (spec_.proc != kAnyProc && r.proc != spec_.proc) continue;
        if (!spec_.filter.empty() && !contains_ci(r.location, spec_.filter) && !contains_ci(std::to_string(r.site), spec_.filter))
            continue;
        visible_.push_back(&r);
    }
    const NativeSort by = spec_.sort;
    const bool desc = spec_.descending;
    auto key_less = [by](const NativeRow& a, const NativeRow& b) -> int {  // -1 a<b, 1 a>b, 0 tie
        auto cmp = [](auto x, auto y) { return x < y ? -1 : y < x ? 1 : 0; };
        switch (by) {
            case NativeSort::LiveBytes: return cmp(a.live_bytes, b.live_bytes);
            case NativeSort::Growth: {
                // Sites without a growth figure sort below every site with one, either way.
                const double lo = -1e300;
                return cmp(a.growth_bytes_per_s.value_or(lo), b.growth_bytes_per_s.value_or(lo));
            }
            case NativeSort::LiveAllocations: return cmp(a.live_allocations, b.live_allocations);
            case NativeSort::Peak: return cmp(a.peak_live_bytes, b.peak_live_bytes);
            case NativeSort::TotalAllocated: return cmp(a.total_allocated, b.total_allocated);
            case NativeSort::Location: return cmp(a.location, b.location);
        }
        return 0;
    };
    std::stable_sort(visible_.begin(), visible_.end(), [&](const NativeRow* a, const NativeRow* b) {
        int c = key_less(*a, *b);
        if (c != 0) return desc ? c > 0 : c < 0;
        // Ties: more live bytes first, then by process and site id (a stable, total order).
        if (a->live_bytes != b->live_bytes) return a->live_bytes > b->live_bytes;
        return std::tie(a->proc, a->site) < std::tie(b->proc, b->site);
    });
    matching_ = visible_.size();
    if (visible_.size() > kMaxRows) visible_.resize(kMaxRows);
}

void NativeTableModel::select(NativeSymbolCache& cache) {
    selection_.reset();
    if (!spec_.selected || !all_) return;
    // The hint is a finding's "file:line" (a full path); locations name the file by its basename.
    std::string hint = spec_.selected_hint;
    if (auto slash = hint.rfind('/'); slash != std::string::npos) hint = hint.substr(slash + 1);
    const NativeRow* row = nullptr;
    for (const NativeRow& r : *all_) {
        if (r.site != spec_.selected_site) continue;
        if (spec_.selected_proc != kAnyProc && r.proc != spec_.selected_proc) continue;
        if (spec_.selected_proc == kAnyProc && !hint.empty() && !contains_ci(r.location, hint)) {
            if (!row) row = &r;  // (kept if no row matches the hint)
            continue;
        }
        row = &r;
        break;
    }
    const model::Timeline* tl = inputs_->at_cursor.get();
    if (!row || !tl) return;
    NativeSelection sel;
    sel.proc = row->proc;
    sel.site = row->site;
    sel.location = row->location;
    const model::NativeProcessInfo* np = tl->native_process(row->proc);
    const model::NativeSiteInfo* site = nullptr;
    for (const model::NativeSiteInfo& s : tl->native_sites())
        if (s.proc == row->proc && s.site == row->site) site = &s;
    if (np && site) sel.frames = cache.stack(np->modules, row->pid, site->frames);
    const NativeSiteHistory* h = inputs_->history ? inputs_->history->find(row->proc, row->site) : nullptr;
    if (h && !h->series.empty()) {
        sel.live_bytes = native_series(h->series, 1e300, kMaxSeriesPoints);  // its whole history
        sel.whole_history = true;
    } else if (site) {
        sel.live_bytes = native_series(site->series, inputs_->t_s, kMaxSeriesPoints);
    }
    selection_ = std::move(sel);
}

}  // namespace tidemark::viewer
