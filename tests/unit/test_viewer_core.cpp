// Unit tests for the viewer's view-model (viewer/core): the time cursor, plot decimation, the
// stream table's sort and filter, the pipeline graph's layout, the recent-files list, and a
// Session + ViewState over a real trace file — "click a finding" selects its stream and moves
// the cursor to its onset, and the state at the cursor is read back from the file.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/decimate.h"
#include "core/files.h"
#include "core/frame_stats.h"
#include "core/graph_layout.h"
#include "core/key_taps.h"
#include "core/session.h"
#include "core/stream_table.h"
#include "core/time_cursor.h"
#include "core/view_state.h"
#include "test_model_detectors_builder.h"
#include "tidemark/model/detect/detectors.h"
#include "tidemark/model/trace/writer.h"

using namespace tidemark;
using namespace tidemark::viewer;
using tidemark::test::TimelineBuilder;

namespace {

constexpr uint32_t kWritable = proto::kKindWritable;
constexpr uint32_t kReadable = proto::kKindReadable;
constexpr uint32_t kDuplex = proto::kKindReadable | proto::kKindWritable;

std::string temp_file(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("tidemark_viewer_" + std::to_string(getpid()) + "_" + name)).string();
}

// The incident in miniature: a source piped through a transform into a sink that drains, and a
// writable fed by user code ignoring false from t = 0.5 s (+1 MiB per 100 ms).
void incident(TimelineBuilder& b, double until) {
    b.created(1, kReadable, "DiskFile", "/app/up.js:10", 0.05, 65536, 0);
    b.created(2, kDuplex, "Checksum", "/app/up.js:11", 0.05);
    b.created(3, kWritable, "Cache", "/app/up.js:12", 0.05);
    b.event(0.06, 1, proto::StreamEventKind::Pipe, 2);
    b.event(0.06, 2, proto::StreamEventKind::Pipe, 3);
    b.created(7, kWritable, "SlowSink", "/app/up.js:20", 0.05);
    auto& s = b.state(7);
    b.sample(0.1, 7);
    bool site_sent = false;
    for (double t = 0.1; t <= until + 1e-9; t += 0.1) {
        b.process(t, 8'000'000, 1'000'000 + static_cast<uint64_t>(t * 10) * (1u << 20));
        if (t >= 0.5) {
            s.write_calls += 16;
            s.bytes_in += 1 << 20;
            s.writable_length += 1 << 20;
            s.writes_after_false += 16;
            s.flags = proto::kFlagNeedDrain | proto::kFlagWriting;
            if (!site_sent) {
                b.call_site(t - 0.05, 7, proto::CallSiteKind::WriteAfterFalse, "/app/up.js:31", 1);
                site_sent = true;
            }
        }
        b.sample(t, 7);
        auto& c = b.state(3);
        c.writable_length = static_cast<uint64_t>(t * 10) % 3 * 4096;
        b.sample(t, 3);
    }
}

std::string write_trace(const std::string& name, const std::vector<proto::Record>& records) {
    std::string path = temp_file(name);
    auto created = model::TraceWriter::create(path, TimelineBuilder::kStartUs, {});
    REQUIRE(created.status.ok());
    for (const proto::Record& r : records) REQUIRE(created.writer->append(r).ok());
    REQUIRE(created.writer->close().ok());
    return path;
}

}  // namespace

TEST_CASE("time cursor: play, speed, stop at the end, step, follow the live end", "[viewer]") {
    TimeCursor c;
    c.set_span(0, 10);
    CHECK(c.t() == 0);
    CHECK_FALSE(c.advance(1.0));  // paused: nothing moves
    c.play();
    CHECK(c.advance(1.0));
    CHECK(c.t() == Approx(1.0));
    c.faster();
    CHECK(c.speed() == 2);
    c.advance(1.0);
    CHECK(c.t() == Approx(3.0));
    c.advance(100.0);
    CHECK(c.t() == 10);
    CHECK_FALSE(c.playing());  // stops at the end
    c.play();                  // play at the end replays from the start
    CHECK(c.t() == 0);
    c.step(+1, 0.5);
    CHECK_FALSE(c.playing());
    CHECK(c.t() == Approx(0.5));
    c.step(-1, 5);
    CHECK(c.t() == 0);  // clamped
    c.seek(42);
    CHECK(c.t() == 10);
    for (int i = 0; i < 20; ++i) c.slower();
    CHECK(c.speed() == TimeCursor::kSpeeds[0]);

    TimeCursor live;
    live.set_span(0, 2);
    live.set_following(true);
    live.set_span(0, 5);
    CHECK(live.t() == 5);  // stays at the newest data
    live.seek(1);
    CHECK_FALSE(live.following());
    live.set_span(0, 8);
    CHECK(live.t() == 1);  // moved by the user: stays where it was put
}

TEST_CASE("decimation keeps every spike and at most one column per pixel", "[viewer]") {
    Series s;
    for (int i = 0; i < 100000; ++i) s.push(i * 0.001, i == 54321 ? 1e9 : 100.0 + i % 7);
    auto cols = decimate(s, 0, 100, 500);
    CHECK(cols.size() <= 500);
    CHECK(cols.size() >= 490);
    double hi = 0;
    for (const Column& c : cols) hi = std::max(hi, c.hi);
    CHECK(hi == 1e9);  // the one-sample spike survives 200:1 decimation
    CHECK(max_in(s, 50, 60) == 1e9);
    CHECK(max_in(s, 60, 70) < 200);
    CHECK(value_at(s, -1) == std::nullopt);
    CHECK(*value_at(s, 0.0015) == 101.0);
    auto ticks = nice_ticks(0, 1e6, 4);
    REQUIRE(ticks.size() >= 3);
    CHECK(ticks[1] - ticks[0] == Approx(ticks[2] - ticks[1]));
    CHECK(decimate(s, 5, 5, 10).empty());  // an empty range
}

TEST_CASE("stream table: state at the cursor, flagged first, sort, filter, aggregates", "[viewer]") {
    TimelineBuilder b;
    incident(b, 3.0);
    b.event(2.0, 1, proto::StreamEventKind::Gone);
    proto::StreamAggregate agg;
    agg.t_us = TimelineBuilder::us(2.5);
    agg.type_str = b.str("IncomingMessage");
    agg.site_str = b.str("/app/server.js:5");
    agg.kind = kReadable;
    agg.created = 1400;
    agg.retired = 1400;
    agg.peak_readable_length = 512;
    b.tl.apply(agg);
    auto tl = std::make_shared<model::Timeline>(b.tl);
    auto findings = model::detect(b.tl);
    REQUIRE_FALSE(findings.empty());

    TableInputs in;
    in.at_cursor = tl;
    in.t_s = 3.0;
    in.flagged = flagged_streams(findings);
    auto m = StreamTableModel::build(in, TableSpec{});
    const auto& rows = m->rows();
    REQUIRE(!rows.empty());
    CHECK(rows[0]->id == 7);  // the flagged stream first
    CHECK(rows[0]->severity == static_cast<int>(model::Severity::Error));
    CHECK(rows[0]->writable_length == 26u << 20);
    CHECK(rows[0]->fill() > 1000);
    CHECK_FALSE(m->index_of(1));  // gone before the cursor: hidden while only_alive
    CHECK(rows.back()->kind == StreamRow::Kind::Aggregate);  // aggregates after the streams
    CHECK(rows.back()->count == 1400);
    CHECK(rows.back()->type == "IncomingMessage");

    auto with_filter = [&](const TableFilter& f) {
        TableSpec spec;
        spec.filter = f;
        return StreamTableModel::resorted(m, spec);
    };
    TableFilter f;
    f.only_alive = false;
    CHECK(with_filter(f)->index_of(1));
    f.text = "check";  // case-insensitive substring of the type
    auto found = with_filter(f);
    REQUIRE(found->rows().size() == 1);
    CHECK(found->rows()[0]->type == "Checksum");
    f.text = "up.js:12";  // of the site
    found = with_filter(f);
    REQUIRE(found->rows().size() == 1);
    CHECK(found->rows()[0]->id == 3);
    f.text = "3";  // a number: that stream id (and any type or site containing it)
    found = with_filter(f);
    REQUIRE(found->rows().size() == 1);
    CHECK(found->rows()[0]->id == 3);
    f = TableFilter{};
    f.only_flagged = true;
    found = with_filter(f);
    REQUIRE(found->rows().size() == 1);
    CHECK(found->rows()[0]->id == 7);

    auto ids_of = [](const StreamTableModel& t) {
        std::vector<uint64_t> ids;
        for (const StreamRow* r : t.rows())
            if (r->kind == StreamRow::Kind::Stream) ids.push_back(r->id);
        return ids;
    };
    TableSpec by_id{SortColumn::Id, false, TableFilter{}};
    auto sorted = StreamTableModel::resorted(m, by_id);
    CHECK(ids_of(*sorted) == std::vector<uint64_t>{7, 2, 3});  // flagged first, then by id (1 is gone)
    TableSpec by_type{SortColumn::Type, true, TableFilter{}};
    sorted = StreamTableModel::resorted(sorted, by_type);
    CHECK(ids_of(*sorted) == std::vector<uint64_t>{7, 2, 3});  // Checksum < Cache descending → Checksum, Cache
    CHECK(sorted->find(1) != nullptr);                          // found even when filtered out
    CHECK(sorted->find(99) == nullptr);
    CHECK(sorted->total_rows() == 5);
    CHECK(&sorted->rows()[0]->type == &m->rows()[0]->type);  // the same rows, only reordered
    CHECK(m->spec() == TableSpec{});                          // the base is unchanged

    // Resorting equals building afresh with that order.
    auto built = StreamTableModel::build(in, by_type);
    REQUIRE(built->rows().size() == sorted->rows().size());
    for (size_t i = 0; i < built->rows().size(); ++i) {
        CHECK(built->rows()[i]->id == sorted->rows()[i]->id);
        CHECK(built->rows()[i]->kind == sorted->rows()[i]->kind);
    }

    // Before any state at the cursor: the rows come from the trace's summaries.
    CHECK(StreamTableModel().rows().empty());
    CHECK(StreamTableModel::build(TableInputs{}, TableSpec{})->total_rows() == 0);
}

TEST_CASE("graph layout: chains source to sink, the broken link flagged with the finding's words", "[viewer]") {
    TimelineBuilder b;
    incident(b, 3.0);
    auto findings = model::detect(b.tl);
    GraphLayout g = layout_chains(b.tl, findings, 0);
    REQUIRE(g.chains.size() == 2);
    // The flagged chain first: user code → SlowSink, the link broken.
    const Chain& bad = g.chains[0];
    CHECK(bad.severity == static_cast<int>(model::Severity::Error));
    REQUIRE(bad.nodes.size() == 2);
    REQUIRE(bad.links.size() == 1);
    const GraphLink& l = bad.links[0];
    CHECK(bad.nodes[l.from].id == 0);
    CHECK(bad.nodes[l.from].label == "user code");
    CHECK(bad.nodes[l.from].sublabel.find("up.js:31") != std::string::npos);
    CHECK(bad.nodes[l.to].id == 7);
    CHECK(l.broken);
    CHECK(l.pressure == Pressure::Overfilled);
    CHECK(l.note.find("ignored-backpressure") == 0);
    CHECK(bad.nodes[l.from].x < bad.nodes[l.to].x);  // source left of sink

    // The healthy chain: DiskFile → Checksum → Cache in layers 0, 1, 2; no broken link.
    const Chain& ok = g.chains[1];
    REQUIRE(ok.nodes.size() == 3);
    for (const GraphNode& n : ok.nodes) CHECK(n.layer == static_cast<int>(n.id) - 1);
    for (const GraphLink& gl : ok.links) CHECK_FALSE(gl.broken);
    CHECK(ok.width > ok.nodes[2].x);

    // Selecting a stream puts its chain first.
    GraphLayout sel = layout_chains(b.tl, findings, 3);
    CHECK(sel.chains[0].selected);
    CHECK(sel.chains[0].nodes.size() == 3);

    // A cycle (a → b → a) cannot hang the layout.
    TimelineBuilder c;
    c.created(1, kDuplex, "A", "/a.js:1");
    c.created(2, kDuplex, "B", "/a.js:2");
    c.event(0.1, 1, proto::StreamEventKind::Pipe, 2);
    c.event(0.2, 2, proto::StreamEventKind::Pipe, 1);
    GraphLayout cyc = layout_chains(c.tl, {}, 0);
    REQUIRE(cyc.chains.size() == 1);
    CHECK(cyc.chains[0].nodes.size() == 2);
}

TEST_CASE("recent files: most recent first, no repeats, bounded, kept across runs", "[viewer]") {
    std::string store = temp_file("recent");
    std::filesystem::remove(store);
    {
        RecentFiles r(store);
        for (int i = 0; i < 15; ++i) r.add("/tmp/t" + std::to_string(i) + ".tidemark");
        r.add("/tmp/t3.tidemark");
        CHECK(r.paths().size() == RecentFiles::kMaxRecent);
        CHECK(r.paths()[0] == "/tmp/t3.tidemark");
        CHECK(r.paths()[1] == "/tmp/t14.tidemark");
    }
    RecentFiles again(store);
    REQUIRE(again.paths().size() == RecentFiles::kMaxRecent);
    CHECK(again.paths()[0] == "/tmp/t3.tidemark");
    std::filesystem::remove(store);

    std::string dir = temp_file("dir");
    std::filesystem::create_directories(dir + "/sub");
    std::ofstream(dir + "/a.tidemark") << "x";
    std::ofstream(dir + "/notes.txt") << "x";
    std::string error;
    auto entries = list_directory(dir, false, error);
    CHECK(error.empty());
    REQUIRE(entries.size() == 3);  // .., sub, a.tidemark (notes.txt hidden)
    CHECK(entries[0].name == "..");
    CHECK(entries[1].name == "sub");
    CHECK(entries[1].directory);
    CHECK(entries[2].name == "a.tidemark");
    CHECK(list_directory(dir, true, error).size() == 4);
    CHECK(list_directory(dir + "/missing", false, error).empty());
    CHECK_FALSE(error.empty());
    std::filesystem::remove_all(dir);
}

TEST_CASE("session: a trace opens, its findings arrive, a clicked finding moves selection and cursor", "[viewer]") {
    TimelineBuilder b;
    incident(b, 4.0);
    b.exit(4.1);
    std::string path = write_trace("incident.tidemark", b.records);

    std::string error;
    auto session = Session::open(path, error);
    REQUIRE(session);
    CHECK(error.empty());
    CHECK(session->last_s() == Approx(4.1).margin(0.01));
    REQUIRE(session->stream_table());
    CHECK(session->stream_table()->streams.size() == 4);  // from the Summary chunks, at open
    REQUIRE(session->wait_analysis(20));

    ViewState vs(std::move(session));
    vs.update(0);
    auto a = vs.analysis();
    REQUIRE(a->done);
    REQUIRE_FALSE(a->findings.empty());
    size_t idx = 0;
    for (size_t i = 0; i < a->findings.size(); ++i)
        if (a->findings[i].kind == model::FindingKind::IgnoredBackpressure) idx = i;
    const model::Finding& f = a->findings[idx];
    REQUIRE(f.stream);
    CHECK(f.stream->id == 7);
    REQUIRE(a->processes.size() == 1);
    CHECK(a->processes[0].external.size() > 30);

    vs.apply(SelectFinding{idx});
    CHECK(vs.selected_stream() == 7);
    CHECK(vs.selected_finding() == idx);
    CHECK(vs.cursor().t() == Approx(f.onset_s));
    CHECK_FALSE(vs.cursor().playing());

    // The state at a later time, read from the file by the cursor thread.
    vs.apply(GoToTime{3.0});
    vs.update(0);
    REQUIRE(vs.session().wait_cursor(10));
    vs.update(0);
    auto cv = vs.cursor_view();
    REQUIRE(cv->timeline);
    CHECK(cv->t_s == 3.0);
    const model::StreamInfo* s = cv->timeline->stream(7);
    REQUIRE(s);
    REQUIRE(s->last());
    CHECK(s->last()->writable_length == 26u << 20);  // 26 writes of 1 MiB by t = 3.0
    CHECK(vs.table().rows()[0]->id == 7);
    CHECK(vs.table().rows()[0]->writable_length == 26u << 20);

    // The selected stream's history arrives from the analysis.
    for (int i = 0; i < 100 && (!vs.analysis() || vs.analysis()->series_id != 7); ++i) {
        usleep(20000);
        vs.update(0);
    }
    REQUIRE(vs.analysis()->series_id == 7);
    CHECK(vs.analysis()->series_writable.size() > 10);
    // The analysis holds it: drawn from there, the file is not read for it.
    CHECK(vs.selected_history().writable == &vs.analysis()->series_writable);
    CHECK_FALSE(vs.session().history());

    auto j = vs.dump();
    CHECK(j["selected_stream"] == 7);
    CHECK(j["findings"].size() == a->findings.size());
    CHECK(j["cursor"]["t"] == 3.0);
    std::filesystem::remove(path);
}

TEST_CASE("session: a file that is not a trace is refused with a message", "[viewer]") {
    std::string path = temp_file("random.bin");
    {
        std::ofstream out(path, std::ios::binary);
        for (int i = 0; i < 4096; ++i) out.put(static_cast<char>((i * 2654435761u) >> 13));
    }
    std::string error;
    CHECK_FALSE(Session::open(path, error));
    CHECK(error.find("not a tidemark trace") != std::string::npos);
    CHECK_FALSE(Session::open(temp_file("missing"), error));
    CHECK_FALSE(error.empty());
    std::filesystem::remove(path);
}

TEST_CASE("session: the table and graph built on the cursor thread equal ones built here from the same state", "[viewer]") {
    TimelineBuilder b;
    incident(b, 4.0);
    b.exit(4.1);
    std::string path = write_trace("derived.tidemark", b.records);
    std::string error;
    auto session = Session::open(path, error);
    REQUIRE(session);
    REQUIRE(session->wait_analysis(20));
    // Before any state at the cursor the table lists the summaries' streams (the first frame's).
    CHECK(session->cursor()->table->total_rows() == 4);
    CHECK_FALSE(session->cursor()->timeline);

    ViewState vs(std::move(session));
    vs.apply(SelectStream{3});
    vs.apply(GoToTime{2.0});
    vs.update(0);
    REQUIRE(vs.session().wait_cursor(10));
    vs.update(0);
    auto cv = vs.cursor_view();
    REQUIRE(cv->timeline);
    CHECK(cv->t_s == 2.0);
    auto a = vs.analysis();
    REQUIRE_FALSE(a->findings.empty());

    TableInputs in;
    in.at_cursor = cv->timeline;
    in.t_s = cv->t_s;
    in.summaries = vs.session().stream_table();
    in.flagged = flagged_streams(a->findings);
    auto here = StreamTableModel::build(in, vs.table_spec());
    const StreamTableModel& there = vs.table();
    REQUIRE(there.rows().size() == here->rows().size());
    REQUIRE(there.total_rows() == here->total_rows());
    for (size_t i = 0; i < here->rows().size(); ++i) {
        const StreamRow& x = *here->rows()[i];
        const StreamRow& y = *there.rows()[i];
        CHECK(x.id == y.id);
        CHECK(x.readable_length == y.readable_length);
        CHECK(x.writable_length == y.writable_length);
        CHECK(x.severity == y.severity);
        CHECK(x.peak_writable == y.peak_writable);
        CHECK(std::string_view(x.state) == std::string_view(y.state));
    }
    CHECK(there.rows()[0]->id == 7);
    CHECK(there.rows()[0]->writable_length == 16u << 20);  // 16 writes of 1 MiB by t = 2.0

    REQUIRE(vs.graph());
    GraphLayout g = layout_chains(*cv->timeline, a->findings, 3);
    REQUIRE(g.chains.size() == vs.graph()->chains.size());
    for (size_t c = 0; c < g.chains.size(); ++c) {
        REQUIRE(g.chains[c].nodes.size() == vs.graph()->chains[c].nodes.size());
        CHECK(g.chains[c].selected == vs.graph()->chains[c].selected);
        for (size_t n = 0; n < g.chains[c].nodes.size(); ++n) CHECK(g.chains[c].nodes[n].id == vs.graph()->chains[c].nodes[n].id);
    }
    CHECK(vs.graph()->chains[0].selected);  // the selected stream's chain first

    // Another order: the same state, resorted on the cursor thread (not read again).
    vs.table_spec().sort = SortColumn::Id;
    vs.table_spec().descending = false;
    vs.update(0);
    REQUIRE(vs.session().wait_cursor(10));
    vs.update(0);
    CHECK(vs.cursor_view()->timeline == cv->timeline);
    CHECK(vs.table().spec().sort == SortColumn::Id);
    std::vector<uint64_t> ids;
    for (const StreamRow* r : vs.table().rows()) ids.push_back(r->id);
    CHECK(ids == std::vector<uint64_t>{7, 1, 2, 3});  // flagged first, then by id
    // Another selection: the graph is laid out again for it, the table kept.
    const StreamTableModel* table_before = &vs.table();
    vs.apply(SelectStream{7});
    vs.update(0);
    REQUIRE(vs.session().wait_cursor(10));
    vs.update(0);
    CHECK(&vs.table() == table_before);
    CHECK(vs.cursor_view()->inputs.selected_stream == 7);
    cv.reset();
    std::filesystem::remove(path);
}

TEST_CASE("session: coalesced cursor requests are served with the newest state", "[viewer]") {
    TimelineBuilder b;
    incident(b, 4.0);
    b.exit(4.1);
    std::string path = write_trace("coalesce.tidemark", b.records);
    std::string error;
    auto session = Session::open(path, error);
    REQUIRE(session);
    // Many requests without waiting (as a drag of the slider), then the newest is what is served.
    for (int i = 1; i <= 30; ++i) session->request_cursor(0.1 * i);
    session->request_cursor(1.0);
    REQUIRE(session->wait_cursor(10));
    auto cv = session->cursor();
    CHECK(cv->t_s == 1.0);
    REQUIRE(cv->timeline);
    REQUIRE(cv->table->find(7));
    CHECK(cv->table->find(7)->writable_length == 6u << 20);  // 0.5 … 1.0: six writes of 1 MiB
    cv.reset();

    // Two states served while nobody holds the first: the session frees it and keeps serving
    // (this deadlocked when the replaced state's last reference was dropped under the lock).
    session->request_cursor(2.0);
    REQUIRE(session->wait_cursor(10));
    session->request_cursor(3.0);
    REQUIRE(session->wait_cursor(10));
    session->request_cursor(3.5);
    REQUIRE(session->wait_cursor(10));
    cv = session->cursor();
    CHECK(cv->t_s == 3.5);
    CHECK(cv->table->find(7)->writable_length == 31u << 20);
    cv.reset();
    session.reset();
    std::filesystem::remove(path);
}

TEST_CASE("frame stats: each phase summarised as p50, p99 and max", "[viewer]") {
    FrameStats st;
    for (int i = 1; i <= 100; ++i) st.add("frame_ms", i);
    st.add_count("vertices", 10);
    st.add_count("vertices", 30);
    auto j = st.summary();
    CHECK(j["frame_ms"]["p50"] == Approx(51).margin(1));
    CHECK(j["frame_ms"]["p99"] == Approx(99).margin(1));
    CHECK(j["frame_ms"]["max"] == 100);
    CHECK(j["frame_ms"]["n"] == 100);
    CHECK(j["vertices"]["max"] == 30);
    CHECK(st.samples("none").empty());
    CHECK(percentile({}, 0.5) == 0);
}

TEST_CASE("key taps: a press is counted even when its release came before the frame", "[viewer]") {
    KeyTaps k;
    k.press(32, false);  // press and release between two frames: the release changes nothing
    CHECK(k.take(32) == 1);
    CHECK(k.take(32) == 0);  // taken once
    k.press(79, true);
    CHECK(k.take(79) == 0);  // Ctrl+O is not O
    CHECK(k.take(79, true) == 1);
    k.press(262, false);
    k.press(262, false);  // auto-repeat
    CHECK(k.take(262) == 2);
    k.press(32, false);
    k.clear();
    CHECK(k.take(32) == 0);
    k.press(-1, false);
    k.press(KeyTaps::kMaxKey, false);  // out of range: ignored
    CHECK(k.take(-1) == 0);
}

TEST_CASE("session: a folded stream's whole history is read from the file by the window query", "[viewer]") {
    // Stream 9 fills to 10 × 64 KiB and is gone at 1.0 s; the trace runs on to 15 s, so the
    // analysis folds it (10 s after it retired) and keeps only its last point.
    TimelineBuilder b;
    b.created(9, kWritable, "Upload", "/app/a.js:9", 0.05, 0, 16384);
    auto& s = b.state(9);
    for (int i = 1; i <= 10; ++i) {
        s.writable_length = static_cast<uint64_t>(i) * 65536;
        b.sample(0.1 * i, 9);
    }
    b.event(1.0, 9, proto::StreamEventKind::Gone);
    for (double t = 0.1; t <= 15.0; t += 0.1) b.process(t, 8'000'000, 1'000'000);
    b.exit(15.1);
    std::string path = write_trace("folded.tidemark", b.records);
    std::string error;
    auto session = Session::open(path, error);
    REQUIRE(session);
    REQUIRE(session->wait_analysis(20));
    ViewState vs(std::move(session));
    vs.apply(SelectStream{9});
    REQUIRE(vs.session().wait_history(9, 20));
    for (int i = 0; i < 100 && !(vs.analysis()->series_id == 9 && vs.session().history()); ++i) {
        usleep(20000);
        vs.update(0);
    }
    vs.update(0);
    REQUIRE(vs.analysis()->series_id == 9);
    CHECK(vs.analysis()->series_partial);            // the analysis kept only its last point
    CHECK(vs.analysis()->series_writable.size() <= 2);
    auto h = vs.session().history();
    REQUIRE(h);
    CHECK(h->id == 9);
    CHECK(h->complete);
    CHECK(h->found);
    CHECK(h->error.empty());
    CHECK(h->t0_s == Approx(0.05).margin(1e-3));  // its life, from the summaries
    CHECK(h->t1_s == Approx(1.0).margin(1e-3));
    CHECK(h->readable.empty());  // a writable: no readable side
    REQUIRE(h->writable.size() > 10);
    // Every step of its fill is there: 64 KiB … 640 KiB.
    std::vector<double> levels;
    for (double v : h->writable.v)
        if (levels.empty() || levels.back() != v) levels.push_back(v);
    CHECK(levels.size() >= 10);
    CHECK(*std::max_element(h->writable.hi.begin(), h->writable.hi.end()) == 10 * 65536);
    SelectedHistory sel = vs.selected_history();
    CHECK(sel.writable == &h->writable);  // the detail view draws the file's history
    CHECK(sel.status.empty());
    CHECK(vs.dump()["selected_history"]["from_file"] == true);
    std::filesystem::remove(path);
}

TEST_CASE("cursor view: only what changed is derived again", "[viewer]") {
    TimelineBuilder b;
    incident(b, 3.0);
    auto tl = std::make_shared<model::Timeline>(b.tl);
    auto findings = model::detect(b.tl);
    REQUIRE_FALSE(findings.empty());
    DeriveMemo memo;

    CursorView first;  // before any state: rows from the summaries (none here), no graph
    CursorView none;
    CHECK_FALSE(derive_views(none, first, ViewInputs{}, {}, nullptr, memo));
    CHECK(first.table->total_rows() == 0);
    CHECK_FALSE(first.graph);

    CursorView at3 = first;  // a new state: table and graph built
    at3.t_s = 3.0;
    at3.timeline = tl;
    REQUIRE(derive_views(first, at3, ViewInputs{}, findings, nullptr, memo));
    REQUIRE(at3.graph);
    CHECK(at3.table->rows()[0]->id == 7);

    CursorView same = at3;  // nothing new: both kept
    CHECK_FALSE(derive_views(at3, same, ViewInputs{}, findings, nullptr, memo));
    CHECK(same.table == at3.table);
    CHECK(same.graph == at3.graph);

    CursorView sorted = at3;  // another sort: the same rows reordered, the graph kept
    ViewInputs by_id;
    by_id.table.sort = SortColumn::Id;
    by_id.table.descending = false;
    REQUIRE(derive_views(at3, sorted, by_id, findings, nullptr, memo));
    CHECK(sorted.table != at3.table);
    CHECK(sorted.table->total_rows() == at3.table->total_rows());
    CHECK(sorted.table->find(7) == at3.table->find(7));  // shared rows, not rebuilt
    CHECK(sorted.graph == at3.graph);

    CursorView selected = sorted;  // another selection: the graph laid out again, the table kept
    ViewInputs sel = by_id;
    sel.selected_stream = 3;
    REQUIRE(derive_views(sorted, selected, sel, findings, nullptr, memo));
    CHECK(selected.table == sorted.table);
    CHECK(selected.graph != sorted.graph);
    CHECK(selected.graph->chains[0].selected);

    CursorView unflagged = selected;  // the findings went: rows rebuilt (nothing flagged first)
    REQUIRE(derive_views(selected, unflagged, sel, {}, nullptr, memo));
    CHECK(unflagged.table->find(7) != selected.table->find(7));
    CHECK(unflagged.table->find(7)->severity == -1);
    CHECK(unflagged.graph != selected.graph);
}
