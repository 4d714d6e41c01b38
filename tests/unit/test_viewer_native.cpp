// Unit tests for the viewer's native allocation sites view-model (viewer/core/native_table.h): rows
// at the cursor from a synthetic Timeline made with Timeline::apply from native records, sorting by
// live bytes and growth both ways, filtering, the growth figure, symbolization once per site,
// the selected site's series and stack, sampled-mode estimates, and a Session over a written trace
// where a clicked native-leak finding selects its site.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "core/cursor_view.h"
#include "core/native_table.h"
#include "core/session.h"
#include "core/view_state.h"
#include "tidemark/model/trace/writer.h"

using namespace tidemark;
using namespace tidemark::viewer;

namespace {

constexpr uint64_t kStartUs = 1'700'000'000'000'000ull;
constexpr double MiB = 1024.0 * 1024.0;

uint64_t us(double t_s) { return kStartUs + static_cast<uint64_t>(std::llround(t_s * 1e6)); }

// One native process (pid 5151) with four sites, one NativeSites record every 100 ms until `until`:
//   site 1  leaky_handler    +1 MiB/s from 0
//   site 2  cache_fill       20 MiB, flat
//   site 3  parse_header     4 KiB, flat
//   site 4  drain_queue      10 MiB falling 0.5 MiB/s
// Each site's stack is one address: 0x1000 * site (the test's resolver names it).
std::vector<proto::Record> native_records(proto::NativeMode mode, double until) {
    std::vector<proto::Record> out;
    proto::Hello h;
    h.t_us = kStartUs;
    h.pid = 5151;
    h.runtime = proto::Runtime::Native;
    h.interval_ms = 100;
    h.cmdline = "request_loop leak";
    out.emplace_back(h);
    proto::NativeModules m;
    m.t_us = kStartUs;
    m.generation = 1;
    out.emplace_back(m);
    for (uint32_t site = 1; site <= 4; ++site) {
        proto::NativeStack st;
        st.t_us = kStartUs;
        st.site = site;
        st.frames = {0x1000ull * site, 0x9000};
        out.emplace_back(st);
    }
    for (int i = 0; i * 0.1 <= until + 1e-9; ++i) {
        const double t = i * 0.1;
        auto site = [&](uint32_t id, double live, uint64_t size) {
            proto::NativeSiteCounters c;
            c.site = id;
            const uint64_t live_b = static_cast<uint64_t>(std::max(0.0, live));
            c.freed_bytes = id == 4 ? static_cast<uint64_t>(0.5 * MiB * t) : 0;
            c.alloc_bytes = live_b + c.freed_bytes;
            c.allocs = c.alloc_bytes / size;
            c.frees = c.freed_bytes / size;
            return c;
        };
        proto::NativeSites s;
        s.t_us = us(t);
        s.sites = {site(1, MiB * t, 1024), site(2, 20 * MiB, 65536), site(3, 4096, 64), site(4, 10 * MiB - 0.5 * MiB * t, 1024)};
        out.emplace_back(s);
        proto::NativeStatus status;
        status.t_us = us(t);
        status.mode = mode;
        status.sample_interval_bytes = mode == proto::NativeMode::Sampled ? 512 * 1024 : 0;
        status.sites = 4;
        for (const auto& c : s.sites) status.live_bytes += c.live_bytes();
        out.emplace_back(status);
        proto::ProcessSample p;
        p.t_us = us(t);
        p.rss_bytes = 60'000'000;
        p.native_live_bytes = status.live_bytes;
        out.emplace_back(p);
    }
    return out;
}

std::shared_ptr<const model::Timeline> timeline_of(const std::vector<proto::Record>& records) {
    auto tl = std::make_shared<model::Timeline>(model::Timeline::unbounded());
    tl->set_start_us(kStartUs);
    for (const auto& r : records) tl->apply(r);
    return tl;
}

const std::map<uint64_t, std::string> kNames = {
    {0x1000, "leaky_handler"}, {0x2000, "cache_fill"}, {0x3000, "parse_header"}, {0x4000, "drain_queue"}, {0x9000, "main"}};

// A resolver that names the test's addresses (the real one needs real modules) and counts calls.
struct FakeResolver {
    std::shared_ptr<size_t> calls = std::make_shared<size_t>(0);
    std::vector<model::SymbolFrame> operator()(const std::vector<proto::NativeModule>&, uint32_t, const std::vector<uint64_t>& frames) const {
        ++*calls;
        std::vector<model::SymbolFrame> out;
        for (uint64_t a : frames) {
            model::SymbolFrame f;
            f.address = a;
            auto it = kNames.find(a);
            f.function = it != kNames.end() ? it->second : "";
            f.file = "/src/app/request_loop.c";
            f.line = static_cast<int>(a / 0x1000) * 10;
            out.push_back(f);
        }
        return out;
    }
};

std::vector<uint32_t> sites_of(const NativeTableModel& m) {
    std::vector<uint32_t> v;
    for (const NativeRow* r : m.rows()) v.push_back(r->site);
    return v;
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("tidemark_viewer_native_" + std::to_string(getpid()) + "_" + name)).string();
}

// Writes the records as a trace at path and opens it in a Session whose analysis has read it all.
std::unique_ptr<Session> open_written(const std::vector<proto::Record>& records, const std::string& path) {
    {
        auto created = model::TraceWriter::create(path, kStartUs, {});
        REQUIRE(created.status.ok());
        for (const proto::Record& r : records) REQUIRE(created.writer->append(r).ok());
        REQUIRE(created.writer->close().ok());
    }
    std::string error;
    auto session = Session::open(path, error);
    REQUIRE(session);
    REQUIRE(session->wait_analysis(20));
    return session;
}

}  // namespace

TEST_CASE("viewer native: rows at the cursor, symbolized once per site, sorted by live bytes and growth", "[viewer][native]") {
    FakeResolver resolver;
    NativeSymbolCache cache(resolver);
    NativeInputs in;
    in.at_cursor = timeline_of(native_records(proto::NativeMode::Full, 8.0));
    in.t_s = 8.0;
    NativeSpec spec;  // live bytes, descending
    auto m = NativeTableModel::build(in, spec, cache);
    REQUIRE(m->any());
    REQUIRE(m->processes().size() == 1);
    CHECK(m->processes()[0].pid == 5151);
    CHECK(m->processes()[0].mode == proto::NativeMode::Full);
    REQUIRE(m->total_rows() == 4);
    CHECK(sites_of(*m) == std::vector<uint32_t>{2, 1, 4, 3});  // 20 MiB, 8 MiB, 6 MiB, 4 KiB

    const NativeRow& leak = *m->rows()[1];
    CHECK(leak.location == "leaky_handler (request_loop.c:10)");  // the attribution frame's label
    CHECK(leak.live_bytes == static_cast<uint64_t>(8 * MiB));
    CHECK(leak.live_allocations == 8 * 1024);
    CHECK(leak.total_allocated == static_cast<uint64_t>(8 * MiB));
    CHECK(leak.peak_live_bytes == static_cast<uint64_t>(8 * MiB));
    CHECK_FALSE(leak.estimate);
    REQUIRE(leak.growth_bytes_per_s);
    CHECK(*leak.growth_bytes_per_s == Approx(MiB).epsilon(0.02));
    const NativeRow& draining = *m->rows()[2];
    CHECK(draining.peak_live_bytes == static_cast<uint64_t>(10 * MiB));  // its peak was at t = 0
    CHECK(draining.total_allocated == static_cast<uint64_t>(10 * MiB));
    REQUIRE(draining.growth_bytes_per_s);
    CHECK(*draining.growth_bytes_per_s == Approx(-0.5 * MiB).epsilon(0.02));
    REQUIRE(m->rows()[0]->growth_bytes_per_s);
    CHECK(*m->rows()[0]->growth_bytes_per_s == 0);
    CHECK(*resolver.calls == 4);

    // Growth, either way: the sort only reorders the same rows and symbolizes nothing again.
    spec.sort = NativeSort::Growth;
    auto by_growth = NativeTableModel::respecified(m, spec, cache);
    CHECK(sites_of(*by_growth) == std::vector<uint32_t>{1, 2, 3, 4});  // ties (0 B/s) by live bytes
    CHECK(&by_growth->rows()[0]->location == &leak.location);          // the same rows
    spec.descending = false;
    auto growth_up = NativeTableModel::respecified(m, spec, cache);
    CHECK(sites_of(*growth_up) == std::vector<uint32_t>{4, 2, 3, 1});
    spec.sort = NativeSort::LiveBytes;
    CHECK(sites_of(*NativeTableModel::respecified(m, spec, cache)) == std::vector<uint32_t>{3, 4, 1, 2});
    spec.sort = NativeSort::TotalAllocated;
    spec.descending = true;
    CHECK(sites_of(*NativeTableModel::respecified(m, spec, cache)) == std::vector<uint32_t>{2, 4, 1, 3});

    // A new state (later cursor) builds new rows from cached symbols.
    in.at_cursor = timeline_of(native_records(proto::NativeMode::Full, 9.0));
    in.t_s = 9.0;
    auto later = NativeTableModel::build(in, NativeSpec{}, cache);
    CHECK(later->rows()[1]->live_bytes == static_cast<uint64_t>(9 * MiB));
    CHECK(*resolver.calls == 4);
    CHECK(cache.size() == 4);
}

TEST_CASE("viewer native: the text filter matches the location or the site id, case-insensitively", "[viewer][native]") {
    FakeResolver resolver;
    NativeSymbolCache cache(resolver);
    NativeInputs in;
    in.at_cursor = timeline_of(native_records(proto::NativeMode::Full, 4.0));
    in.t_s = 4.0;
    NativeSpec spec;
    spec.filter = "LEAKY";
    auto m = NativeTableModel::build(in, spec, cache);
    CHECK(sites_of(*m) == std::vector<uint32_t>{1});
    CHECK(m->matching_rows() == 1);
    CHECK(m->total_rows() == 4);
    spec.filter = "request_loop.c:30";
    CHECK(sites_of(*NativeTableModel::respecified(m, spec, cache)) == std::vector<uint32_t>{3});
    spec.filter = "4";
    CHECK(sites_of(*NativeTableModel::respecified(m, spec, cache)) == std::vector<uint32_t>{4});
    spec.filter = "nothing like it";
    CHECK(NativeTableModel::respecified(m, spec, cache)->rows().empty());
    spec.filter.clear();
    spec.proc = 7;  // another process's sites only: none
    CHECK(NativeTableModel::respecified(m, spec, cache)->rows().empty());
}

TEST_CASE("viewer native: the growth figure over the trailing window", "[viewer][native]") {
    std::vector<model::NativePoint> s;
    for (int i = 0; i <= 200; ++i) s.push_back({i * 0.1, static_cast<uint64_t>(i < 100 ? 0 : (i - 100) * 1000), 0});
    // Over the last 10 s (t 10..20) it grew 10,000 B/s; over the first 10 s not at all.
    auto g = native_growth(s, 20.0, 100'000, 10, 32);
    REQUIRE(g);
    CHECK(*g == Approx(10'000).epsilon(0.02));
    auto flat = native_growth(s, 9.0, 0, 5, 32);
    REQUIRE(flat);
    CHECK(*flat == 0);
    // A site that changed once long ago holds its value: flat, from the value holding at the start.
    std::vector<model::NativePoint> once{{1.0, 5000, 5000}};
    auto held = native_growth(once, 30.0, 5000, 10, 32);
    REQUIRE(held);
    CHECK(*held == 0);
    // One that appeared within the window grew from nothing to what it holds now.
    std::vector<model::NativePoint> fresh{{28.0, 2000, 2000}};
    auto young = native_growth(fresh, 30.0, 4000, 10, 32);
    REQUIRE(young);
    CHECK(*young == Approx(1000));
    CHECK_FALSE(native_growth({}, 30.0, 0, 10, 32));
    // The plot's series is bounded, keeping each merged span's extremes.
    std::vector<model::NativePoint> spiky;
    for (int i = 0; i < 10000; ++i) spiky.push_back({i * 0.01, static_cast<uint64_t>(i == 5003 ? 1'000'000 : 10), 0});
    Series plot = native_series(spiky, 1e300, 500);
    CHECK(plot.size() <= 500);
    CHECK(*std::max_element(plot.hi.begin(), plot.hi.end()) == 1'000'000);
    CHECK(native_series(spiky, 50.0, 0).size() == 5001);  // up to t = 50 s
}

TEST_CASE("viewer native: a selected site's series and whole stack, and sampled figures are estimates", "[viewer][native]") {
    FakeResolver resolver;
    NativeSymbolCache cache(resolver);
    const auto records = native_records(proto::NativeMode::Sampled, 6.0);
    NativeInputs in;
    in.at_cursor = timeline_of(records);
    in.t_s = 6.0;
    NativeSpec spec;
    spec.selected = true;
    spec.selected_proc = kAnyProc;  // as a finding names it: by id and file:line
    spec.selected_site = 1;
    spec.selected_hint = "/src/app/request_loop.c:10";
    auto m = NativeTableModel::build(in, spec, cache);
    CHECK(m->processes()[0].mode == proto::NativeMode::Sampled);
    CHECK(m->processes()[0].sample_interval_bytes == 512 * 1024);
    for (const NativeRow* r : m->rows()) CHECK(r->estimate);
    REQUIRE(m->selection());
    const NativeSelection& sel = *m->selection();
    CHECK(sel.site == 1);
    CHECK(sel.frames == std::vector<std::string>{"leaky_handler (request_loop.c:10)", "main (request_loop.c:90)"});
    CHECK_FALSE(sel.whole_history);  // only the cursor's own state: no analysis history given
    CHECK(sel.live_bytes.size() == 61);
    CHECK(sel.live_bytes.v.back() == Approx(6 * MiB));

    // With the analysis's (bounded, whole-trace) history, the series comes from there.
    model::Timeline analysis;  // default limits: coarsened series
    analysis.set_start_us(kStartUs);
    for (const auto& r : native_records(proto::NativeMode::Sampled, 12.0)) analysis.apply(r);
    in.history = native_history(analysis);
    REQUIRE(in.history);
    REQUIRE(in.history->find(0, 1));
    auto with_history = NativeTableModel::build(in, spec, cache);
    REQUIRE(with_history->selection());
    CHECK(with_history->selection()->whole_history);
    CHECK(with_history->selection()->live_bytes.t.back() == Approx(12.0));  // past the cursor: its whole history
    CHECK(with_history->selection()->live_bytes.size() <= NativeTableModel::kMaxSeriesPoints);
    CHECK(native_history_fingerprint(analysis) == native_history_fingerprint(analysis));

    // Clearing the selection, or selecting another site, only re-selects.
    spec.selected_site = 4;
    spec.selected_proc = 0;
    auto other = NativeTableModel::respecified(with_history, spec, cache);
    REQUIRE(other->selection());
    CHECK(other->selection()->location == "drain_queue (request_loop.c:40)");
    CHECK(other->rows() == with_history->rows());
    spec.selected = false;
    CHECK_FALSE(NativeTableModel::respecified(other, spec, cache)->selection());
}

TEST_CASE("viewer native: a trace without native tracking has no native rows", "[viewer][native]") {
    NativeSymbolCache cache(FakeResolver{});
    auto tl = std::make_shared<model::Timeline>();
    proto::Hello h;
    h.t_us = kStartUs;
    h.pid = 1;
    tl->set_start_us(kStartUs);
    tl->apply(h);
    NativeInputs in;
    in.at_cursor = tl;
    auto m = NativeTableModel::build(in, NativeSpec{}, cache);
    CHECK_FALSE(m->any());
    CHECK(m->rows().empty());
    CHECK_FALSE(native_history(*tl));
}

TEST_CASE("viewer native: a clicked native-leak finding selects its site and shows the native panel", "[viewer][native]") {
    // A leak the detector finds: site 1 grows 1 MiB/s for 8 s.
    auto records = native_records(proto::NativeMode::Full, 8.0);
    proto::ProcessExit x;
    x.t_us = us(8.1);
    records.emplace_back(x);
    const std::string path = temp_path("leak.tidemark");
    ViewState vs(open_written(records, path));
    vs.update(0);
    auto a = vs.analysis();
    REQUIRE(a->native);  // the analysis's native series are published
    std::optional<size_t> leak;
    for (size_t i = 0; i < a->findings.size(); ++i)
        if (a->findings[i].kind == model::FindingKind::NativeLeak) leak = i;
    REQUIRE(leak);
    REQUIRE(finding_native_site(a->findings[*leak]) == 1u);

    // The state at the cursor, with its native rows, built on the cursor thread; a native program's
    // trace (no streams) opens on the native panel.
    vs.apply(GoToTime{7.0});
    vs.update(0);
    REQUIRE(vs.session().wait_cursor(10));
    vs.update(0);
    REQUIRE(vs.native());
    REQUIRE(vs.native()->any());
    CHECK(vs.panel_request() == Panel::Native);
    vs.set_panel(Panel::Native);  // the layout showed it
    CHECK_FALSE(vs.panel_request());
    CHECK(vs.native()->rows()[0]->site == 2);  // 20 MiB
    CHECK(vs.native()->rows()[0]->severity < 0);
    CHECK(vs.native()->rows()[1]->site == 1);
    CHECK(vs.native()->rows()[1]->severity == static_cast<int>(model::Severity::Error));  // flagged by the finding

    vs.set_panel(Panel::Streams);
    vs.apply(SelectFinding{*leak});
    CHECK(vs.panel_request() == Panel::Native);
    CHECK(vs.cursor().t() == Approx(a->findings[*leak].onset_s));
    vs.update(0);
    REQUIRE(vs.session().wait_cursor(10));
    vs.update(0);
    REQUIRE(vs.native()->selection());
    CHECK(vs.native()->selection()->site == 1);
    CHECK(vs.native()->selection()->whole_history);
    CHECK(vs.native()->selection()->frames.size() == 2);

    // Sorted by growth (either way) on the cursor thread.
    vs.native_spec().sort = NativeSort::Growth;
    vs.update(0);
    REQUIRE(vs.session().wait_cursor(10));
    vs.update(0);
    CHECK(vs.native()->rows()[0]->site == 1);
    auto j = vs.dump();
    CHECK(j["native"]["top"][0]["site"] == 1);
    CHECK(j["native"]["selected"]["site"] == 1);
    CHECK(j["native"]["processes"][0]["mode"] == "full");
    std::filesystem::remove(path);
}

TEST_CASE("viewer native: the memory timeline gets the native live bytes of a process run with --native", "[viewer][native]") {
    auto records = native_records(proto::NativeMode::Full, 4.0);
    for (int i = 0; i <= 40; ++i) {  // the agent's process samples: native live climbing 1 MiB/s
        proto::ProcessSample s;
        s.t_us = us(i * 0.1);
        s.rss_bytes = static_cast<uint64_t>(80 * MiB);
        s.native_live_bytes = static_cast<uint64_t>((20 + i * 0.1) * MiB);
        records.emplace_back(s);
    }
    proto::ProcessExit x;
    x.t_us = us(4.1);
    records.emplace_back(x);
    const std::string path = temp_path("native_live.tidemark");
    ViewState vs(open_written(records, path));
    vs.update(0);
    auto a = vs.analysis();
    REQUIRE(a->processes.size() == 1);
    const ProcessView& p = a->processes[0];
    CHECK(p.native);
    REQUIRE(p.native_live.size() == p.rss.size());
    REQUIRE(p.native_live.size() >= 2);
    // The model's native live bytes: the sites' own total where the tracker's counters are in
    // (site 1 rising from 0, 20 MiB, 4 KiB, 10 MiB falling at t = 0), so ~30 MiB at the start.
    CHECK(p.native_live.v.front() == Approx(30 * MiB).epsilon(0.02));
    for (size_t i = 0; i < p.native_live.size(); ++i) CHECK(p.native_live.v[i] > 0);
    CHECK(vs.memory_options().native_live);  // drawn by default when present
    std::filesystem::remove(path);
}

TEST_CASE("viewer native: a process without native tracking has no native live series to draw", "[viewer][native]") {
    std::vector<proto::Record> records;
    proto::Hello h;
    h.t_us = kStartUs;
    h.pid = 77;
    h.cmdline = "node app.js";
    records.emplace_back(h);
    for (int i = 0; i <= 10; ++i) {
        proto::ProcessSample s;
        s.t_us = us(i * 0.1);
        s.rss_bytes = static_cast<uint64_t>(60 * MiB);
        s.heap_used_bytes = static_cast<uint64_t>(10 * MiB);
        records.emplace_back(s);
    }
    const std::string path = temp_path("no_native.tidemark");
    ViewState vs(open_written(records, path));
    vs.update(0);
    auto a = vs.analysis();
    REQUIRE(a->processes.size() == 1);
    CHECK_FALSE(a->processes[0].native);
    CHECK(a->processes[0].rss.size() == 11);
    std::filesystem::remove(path);
}
