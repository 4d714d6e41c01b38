// Everything the views of one open session share: the time cursor, the selection, the stream
// table's model, the memory plot's visible range. Views read it and post events; apply() is the
// one place events change it, so "click a finding → its stream is selected and the cursor moves
// to its onset" is plain logic with a unit test. Also the JSON state dump tests read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/events.h"
#include "core/graph_layout.h"
#include "core/session.h"
#include "core/stream_table.h"
#include "core/time_cursor.h"

namespace tidemark::viewer {

// A rectangle on screen (window pixels), for the state dump: where a test can click.
struct HitRect {
    std::string what;  // "finding:0", "stream:12", "play"…
    float x = 0, y = 0, w = 0, h = 0;
};

// The selected stream's buffered lengths over time, as the detail view draws them: read from the
// file when the analysis lacks them (it folded the stream, dropped it, or has not reached it), else
// the analysis's. The pointers stay valid until the next ViewState::update().
struct SelectedHistory {
    const Series* readable = nullptr;
    const Series* writable = nullptr;
    std::string status;  // what to say above the plot ("" when the whole history is there)
};

// The panel under the memory plot: the streams (table and detail) or the native allocation sites.
enum class Panel { Streams, Native };

// Which memory series the timeline shows, and for which process.
struct MemoryOptions {
    bool rss = true, heap_used = true, heap_total = false, external = true, array_buffers = false, streams = true, native_live = true;
    int proc_index = 0;
};

class ViewState {
public:
    explicit ViewState(std::unique_ptr<Session> session);

    Session& session() { return *session_; }
    const Session& session() const { return *session_; }
    TimeCursor& cursor() { return cursor_; }
    const TimeCursor& cursor() const { return cursor_; }
    // The stream table at the cursor, as the session's cursor thread built it (never null).
    const StreamTableModel& table() const { return *cursor_view_->table; }
    // The sort and filter the user chose (the table's widgets edit it; the next table follows it).
    TableSpec& table_spec() { return table_spec_; }

    // The native allocation sites at the cursor, as the cursor thread built them (null before the
    // first state at the cursor).
    const NativeTableModel* native() const { return cursor_view_->native.get(); }
    // The native sites' sort and filter (the view's widgets edit it; the selection changes by
    // SelectNativeSite events).
    NativeSpec& native_spec() { return native_spec_; }

    // The panel shown, and a change of it asked for by an event (a native finding clicked shows the
    // native sites) or by the trace (one with native sites and no streams opens on them). The layout
    // selects the requested tab and reports the tab shown with set_panel() each frame; the request
    // stands until that tab is shown (a tab bar may ignore it on the frame it is created), or for 30
    // frames at most.
    Panel panel() const { return panel_; }
    std::optional<Panel> panel_request() const { return panel_request_; }
    void set_panel(Panel p) {
        panel_ = p;
        if (panel_request_ && (*panel_request_ == p || ++panel_request_frames_ > 30)) panel_request_.reset();
    }

    uint64_t selected_stream() const { return selected_stream_; }
    std::optional<size_t> selected_finding() const { return selected_finding_; }
    // Memory plot's visible range (trace seconds); empty = the whole span.
    double view_t0() const;
    double view_t1() const;
    void set_view(double t0, double t1);
    void reset_view() { view_.reset(); }

    // Once per frame: pulls the session's published views, moves the cursor by the elapsed wall
    // time, asks the session for the state at the cursor (and the table and graph for the current
    // sort, filter and selection). Never waits for the session. Returns true when anything changed.
    bool update(double wall_dt_s);
    // Applies one event.
    void apply(const Event& e);

    std::shared_ptr<const AnalysisView> analysis() const { return analysis_; }
    std::shared_ptr<const CursorView> cursor_view() const { return cursor_view_; }
    SelectedHistory selected_history() const;

    // The pipeline graph at the cursor, laid out by the session's cursor thread when the state, the
    // findings or the selection changed (null until the first state at the cursor arrives).
    const GraphLayout* graph() const { return cursor_view_->graph.get(); }

    MemoryOptions& memory_options() { return memory_; }

    // Where clickable things were drawn in the last frame (filled by the views).
    std::vector<HitRect>& hits() { return hits_; }

    // The state a test or a bug report reads: cursor, selection, findings, table, status.
    nlohmann::json dump();

private:
    void request_panel(Panel p) {
        panel_request_ = p;
        panel_request_frames_ = 0;
    }

    std::unique_ptr<Session> session_;
    TimeCursor cursor_;
    TableSpec table_spec_;
    NativeSpec native_spec_;
    Panel panel_ = Panel::Streams;
    std::optional<Panel> panel_request_;
    int panel_request_frames_ = 0;
    bool native_seen_ = false;  // the first state with native sites arrived
    uint64_t selected_stream_ = 0;
    std::optional<size_t> selected_finding_;
    std::optional<std::pair<double, double>> view_;
    std::shared_ptr<const AnalysisView> analysis_;
    std::shared_ptr<const CursorView> cursor_view_;
    std::shared_ptr<const StreamHistory> history_;
    std::vector<HitRect> hits_;
    MemoryOptions memory_;
    bool first_update_ = true;
};

}  // namespace tidemark::viewer
