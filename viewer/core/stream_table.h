// The streams table's model: one row per stream at the cursor's time (its buffered lengths then,
// against its highWaterMarks), whole-life figures from the trace's Summary chunks, rows of their
// own for aggregated short-lived streams, and sort / filter / search. Built (on the Session's cursor
// thread) only when its inputs change — a new cursor state, new findings, another sort or filter —
// never per frame, and never on the UI thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tidemark/model/detect/finding.h"
#include "tidemark/model/timeline/timeline.h"
#include "tidemark/model/trace/summary.h"

namespace tidemark::viewer {

struct StreamRow {
    enum class Kind { Stream, Aggregate };
    Kind kind = Kind::Stream;
    uint64_t id = 0;          // stream id (0 for an aggregate row)
    uint32_t proc = 0;
    uint32_t thread_id = 0;   // worker thread, 0 = main
    uint32_t kind_bits = 0;   // proto::StreamKind bits
    // Views into the strings of the state the model holds (it keeps that state alive).
    std::string_view type, site;
    uint64_t readable_hwm = 0, writable_hwm = 0;
    // At the cursor (for a stream alive then; its last state otherwise).
    bool alive = true;
    uint64_t readable_length = 0, writable_length = 0;
    int flowing = -1;  // readableFlowing: -1 null, 0 false, 1 true (readable streams)
    uint32_t flags = 0;
    uint64_t writes_after_false = 0, pushes_after_false = 0;
    uint64_t bytes_in = 0, bytes_pushed = 0;
    const char* state = "";  // "open", "ended", "finished", "destroyed", "errored", "gone" (static text)
    // Whole life (from the Summary chunks when the trace has them, else what the cursor state knows).
    uint64_t peak_readable = 0, peak_writable = 0;
    double created_s = 0;
    std::optional<double> gone_s;
    const std::vector<uint64_t>* piped_to = nullptr;  // destinations ever piped to (null: none known)
    // Aggregate rows: how many streams were folded into it, and their total bytes.
    uint64_t count = 1;
    // A finding names this stream (the highest severity of them), -1 if none.
    int severity = -1;

    // The fullest buffer against its highWaterMark (0 when it has none).
    double fill() const;
};

enum class SortColumn { Id, Type, Site, Buffered, Fill, Peak, Flowing, AfterFalse, State, Created };

struct TableFilter {
    std::string text;          // substring of type, site or id (case-insensitive)
    bool only_alive = true;    // streams alive at the cursor
    bool only_flagged = false; // streams a finding names
    bool show_aggregates = true;
    bool operator==(const TableFilter&) const = default;
};

// What the table's rows are made from: the state at the cursor (null before one arrived: then the
// rows come from the summaries alone), the trace's Summary chunks, and the streams findings name.
struct TableInputs {
    std::shared_ptr<const model::Timeline> at_cursor;
    double t_s = 0;
    std::shared_ptr<const model::StreamTable> summaries;
    std::vector<std::pair<uint64_t, int>> flagged;  // (stream id, highest severity), sorted by id
};

// How the user wants the rows: order and filter.
struct TableSpec {
    SortColumn sort = SortColumn::Fill;
    bool descending = true;
    TableFilter filter;
    bool operator==(const TableSpec&) const = default;
};

// The streams findings name, with the highest severity of each, sorted by id (TableInputs::flagged).
std::vector<std::pair<uint64_t, int>> flagged_streams(const std::vector<model::Finding>& findings);

// One built table: every row, the visible ones sorted and filtered, an index by id. Immutable, so
// it is built on the cursor thread (Session) and a frame only swaps in a ready one; it keeps the
// state its rows view alive.
class StreamTableModel {
public:
    // An empty table (no rows).
    StreamTableModel();
    // Builds every row from `in`, then sorts and filters them by `spec`. Costs O(n log n) in the
    // streams at the cursor (10,000 of them: milliseconds), so never on the UI thread.
    static std::shared_ptr<const StreamTableModel> build(TableInputs in, const TableSpec& spec);
    // The same rows in another order or filter (shares them with `base`; only sorts).
    static std::shared_ptr<const StreamTableModel> resorted(const std::shared_ptr<const StreamTableModel>& base, const TableSpec& spec);

    // The visible rows, sorted and filtered (pointers into rows this table keeps).
    const std::vector<const StreamRow*>& rows() const { return visible_; }
    // Rows before filtering (for the "N of M" line).
    size_t total_rows() const { return all_->size(); }
    // A stream's row, visible or not (binary search by id).
    const StreamRow* find(uint64_t id) const;
    // Position of a stream among the visible rows.
    std::optional<size_t> index_of(uint64_t id) const;

    const TableInputs& inputs() const { return *inputs_; }
    const TableSpec& spec() const { return spec_; }

private:
    void sort_and_filter();

    std::shared_ptr<const TableInputs> inputs_;      // keeps the state the rows view alive
    std::shared_ptr<const std::vector<StreamRow>> all_;
    std::shared_ptr<const std::vector<std::pair<uint64_t, size_t>>> by_id_;  // (id, index in all_)
    TableSpec spec_;
    std::vector<const StreamRow*> visible_;
};

// A creation or call site shortened for a narrow column: relative to the current directory when
// under it, else its last three path components after "…/". "node:…" sites stay as they are.
std::string display_site(const std::string& site);

// "12.3 KiB", "4.0 MiB"…
std::string format_bytes(uint64_t bytes);
// The state word of a stream's flags/events (static text).
const char* stream_state(const model::StreamInfo& s);

}  // namespace tidemark::viewer
