// The native allocation sites view's model (docs/VIEWER.md "Native"): for the state at the cursor,
// one row per allocation site of each natively tracked process — where it allocates (the first
// frame that is the program's own, as `tidemark report` attributes it), live bytes and
// allocations, peak, growth over a recent window, total allocated — sorted and filtered, and the
// selected site's live bytes over time and its whole symbolized stack. Built on the Session's
// cursor thread (derive_views), never in a frame: symbolization runs there, once per site
// (NativeSymbolCache), and a new sort or filter only reorders the same rows.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/decimate.h"
#include "tidemark/model/detect/finding.h"
#include "tidemark/model/native/symbols.h"
#include "tidemark/model/timeline/timeline.h"

namespace tidemark::viewer {

// The analysis's (whole-trace, bounded) live-bytes series of the sites it keeps one for, published
// with the AnalysisView. The cursor's state only holds each site's points since its keyframe.
struct NativeSiteHistory {
    uint32_t proc = 0, site = 0;
    uint64_t peak_live_bytes = 0;           // as far as the analysis has read
    std::vector<model::NativePoint> series;  // time-ordered
};
struct NativeHistory {
    std::vector<NativeSiteHistory> sites;  // sorted by (proc, site)
    const NativeSiteHistory* find(uint32_t proc, uint32_t site) const;
};
// The analysis timeline's native series (null when it has no native process).
std::shared_ptr<const NativeHistory> native_history(const model::Timeline& analysis);
// Changes when any of those series changes (the analysis publishes an unchanged history again as
// the same pointer, so the views are not derived again for it).
uint64_t native_history_fingerprint(const model::Timeline& analysis);

// Symbolized sites, cached for the life of a session on the cursor thread: each site's stack is
// resolved once (libdw, model::shared_symbolizer) and only its location label is kept, so the cache
// stays small (one string per site) however many sites a process has. A selected site's whole stack
// is resolved again when it is selected (the symbolizer caches each address).
class NativeSymbolCache {
public:
    using Resolver = std::function<std::vector<model::SymbolFrame>(const std::vector<proto::NativeModule>&, uint32_t pid,
                                                                   const std::vector<uint64_t>&)>;
    NativeSymbolCache();  // resolves with model::shared_symbolizer()
    explicit NativeSymbolCache(Resolver resolver);

    // "function (file:line)" of the site's attribution frame (model::attribution_frame; "0x…
    // (module)" when unresolved), or "(no stack yet)" before its stack arrived (not cached).
    std::string location(const std::vector<proto::NativeModule>& modules, uint32_t pid, const model::NativeSiteInfo& s);
    // Every frame's label, innermost first (not cached).
    std::vector<std::string> stack(const std::vector<proto::NativeModule>& modules, uint32_t pid, const std::vector<uint64_t>& frames);
    size_t resolved() const { return resolved_; }  // stacks resolved so far (tests)
    size_t size() const { return locations_.size(); }

    static constexpr size_t kMaxEntries = 1 << 18;  // past it the cache starts over

private:
    Resolver resolver_;
    std::map<std::pair<uint32_t, uint32_t>, std::string> locations_;  // (proc, site) → location
    size_t resolved_ = 0;
};

struct NativeRow {
    uint32_t proc = 0, pid = 0, site = 0;
    std::string location;  // see NativeSymbolCache::location
    // At the cursor (estimates in sampled mode).
    uint64_t live_bytes = 0;
    uint64_t live_allocations = 0;
    uint64_t peak_live_bytes = 0;   // the most live bytes up to the cursor (see docs/VIEWER.md)
    uint64_t total_allocated = 0;   // bytes allocated there since the start (freed or not)
    uint64_t allocations = 0;
    // Live bytes per second over the trailing growth window (Theil–Sen); nullopt when the site has
    // fewer than two points in it.
    std::optional<double> growth_bytes_per_s;
    bool estimate = false;   // sampled mode
    int severity = -1;       // a native-leak finding names this site (its severity), -1 if none
};

struct NativeProcessRow {
    uint32_t proc = 0, pid = 0;
    std::string cmdline;
    proto::NativeMode mode = proto::NativeMode::Off;
    uint64_t sample_interval_bytes = 0;
    uint64_t live_bytes = 0;   // malloc-family live at the cursor (NativeStatus)
    uint64_t sites = 0;        // sites interned so far
    uint64_t untracked = 0;    // allocations not attributed (the target's table was full)
    uint64_t mmap_bytes = 0, munmap_bytes = 0;
};

enum class NativeSort { LiveBytes, Growth, LiveAllocations, Peak, TotalAllocated, Location };

inline constexpr uint32_t kAnyProc = 0xffffffffu;

// How the user wants the rows, and which site is selected.
struct NativeSpec {
    NativeSort sort = NativeSort::LiveBytes;
    bool descending = true;
    std::string filter;           // substring of the location or site id (case-insensitive)
    uint32_t proc = kAnyProc;     // one process's sites, or every process's
    // The selected site (site 0 is a valid id: `selected` says whether there is one). A finding
    // names its site but not its process: kAnyProc picks the first row with that id whose location
    // contains `selected_hint` (the finding's file:line).
    bool selected = false;
    uint32_t selected_proc = kAnyProc, selected_site = 0;
    std::string selected_hint;
    bool operator==(const NativeSpec&) const = default;
};

// The selected site: its live bytes over time (bounded for the plot) and its stack.
struct NativeSelection {
    uint32_t proc = 0, site = 0;
    std::string location;
    std::vector<std::string> frames;  // innermost first
    Series live_bytes;                // lo/hi/v: min, max merged into it, value
    // From the analysis: the whole history as far as it has read. Else from the state at the cursor:
    // only since the keyframe it was decoded from, up to the cursor.
    bool whole_history = false;
};

struct NativeInputs {
    std::shared_ptr<const model::Timeline> at_cursor;
    double t_s = 0;
    std::shared_ptr<const NativeHistory> history;      // may be null
    std::vector<std::pair<uint32_t, int>> flagged;     // (site id, severity) from native-leak findings
};

class NativeTableModel {
public:
    static constexpr double kGrowthWindowS = 10;   // trailing window of the growth figure
    static constexpr size_t kMaxRows = 1000;       // rows kept after sorting and filtering
    static constexpr size_t kMaxSeriesPoints = 2048;  // points of the selected site's series
    static constexpr size_t kGrowthMaxPoints = 32;    // Theil–Sen's points per site

    NativeTableModel() = default;
    // Every row of `in`'s state (symbolizing sites `cache` has not seen), sorted and filtered by
    // `spec`, and the selected site.
    static std::shared_ptr<const NativeTableModel> build(NativeInputs in, const NativeSpec& spec, NativeSymbolCache& cache);
    // The same rows for another sort, filter or selection (only sorts; symbolizes a new selection).
    static std::shared_ptr<const NativeTableModel> respecified(const std::shared_ptr<const NativeTableModel>& base,
                                                               const NativeSpec& spec, NativeSymbolCache& cache);

    bool any() const { return !processes_.empty(); }  // the state has natively tracked processes
    const std::vector<NativeProcessRow>& processes() const { return processes_; }
    const NativeProcessRow* process(uint32_t proc) const;
    // The visible rows: filtered, sorted, at most kMaxRows.
    const std::vector<const NativeRow*>& rows() const { return visible_; }
    size_t matching_rows() const { return matching_; }  // rows the filter let through (before the cap)
    size_t total_rows() const { return all_ ? all_->size() : 0; }
    const std::optional<NativeSelection>& selection() const { return selection_; }
    const NativeSpec& spec() const { return spec_; }
    const NativeInputs& inputs() const { return *inputs_; }

private:
    void sort_and_filter();
    void select(NativeSymbolCache& cache);

    std::shared_ptr<const NativeInputs> inputs_ = std::make_shared<NativeInputs>();
    std::shared_ptr<const std::vector<NativeRow>> all_;
    std::vector<NativeProcessRow> processes_;
    NativeSpec spec_;
    std::vector<const NativeRow*> visible_;
    size_t matching_ = 0;
    std::optional<NativeSelection> selection_;
};

// The sites native-leak findings name, with the highest severity of each, sorted by site id.
std::vector<std::pair<uint32_t, int>> flagged_native_sites(const std::vector<model::Finding>& findings);
// The site a native-leak finding names (its "site" evidence), if it is one.
std::optional<uint32_t> finding_native_site(const model::Finding& f);

// Growth of live bytes over [t - window, t]: Theil–Sen over the points inside it, the value holding
// at its start and `now_bytes` at t (a site's series only gets a point when it changes). nullopt
// when the window holds no earlier value than t.
std::optional<double> native_growth(const std::vector<model::NativePoint>& series, double t, uint64_t now_bytes,
                                    double window_s, size_t max_points);

// The series as a plot Series over [.., t_max], at most `max_points` (neighbours merged: min, max
// and last value).
Series native_series(const std::vector<model::NativePoint>& series, double t_max, size_t max_points);

const char* native_mode_name(proto::NativeMode m);

}  // namespace tidemark::viewer
