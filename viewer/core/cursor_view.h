// The state at one time and what the views show of it — the stream table's rows sorted and
// filtered, the pipeline graph's layout — as one immutable CursorView. The Session's cursor thread
// makes them (derive_views) so a frame only swaps in a ready one; derive_views rebuilds only what
// its inputs changed (the native sites' rows too: core/native_table.h): a new state rebuilds both, new findings rebuild the table (which streams are
// flagged) and the graph (their words), a new sort or filter only reorders the same rows, a new
// selection only lays the graph out again.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/graph_layout.h"
#include "core/native_table.h"
#include "core/stream_table.h"
#include "tidemark/model/detect/finding.h"
#include "tidemark/model/timeline/timeline.h"
#include "tidemark/model/trace/summary.h"

namespace tidemark::viewer {

// What the views want derived from the state at the cursor besides the state itself.
struct ViewInputs {
    TableSpec table;               // the stream table's sort and filter
    uint64_t selected_stream = 0;  // put first in the pipeline graph
    NativeSpec native;             // the native sites' sort, filter and selected site
    bool operator==(const ViewInputs&) const = default;
};

// The state at one time, and what the views show of it: the result of a cursor request (or of a
// change of the view inputs or the findings, for the same state). Immutable once published.
struct CursorView {
    double t_s = 0;
    std::shared_ptr<const model::Timeline> timeline;  // state at t_s (every stream's latest sample)
    // The stream table at t_s (before the first state: from the trace's summaries). Never null.
    std::shared_ptr<const StreamTableModel> table = std::make_shared<StreamTableModel>();
    // The pipeline graph at t_s (null until a state at the cursor arrived).
    std::shared_ptr<const GraphLayout> graph;
    // The native allocation sites at t_s (null until a state at the cursor arrived).
    std::shared_ptr<const NativeTableModel> native;
    ViewInputs inputs;      // what the table and graph were derived for
    double took_ms = 0;     // how long the seek and decode took
    double derive_ms = 0;   // how long building the table and laying out the graph took
    std::string error;
};

// What derive_views remembers between calls: the findings the newest graph was laid out with, and
// the native sites symbolized so far (each once).
struct DeriveMemo {
    std::vector<model::Finding> graph_findings;
    NativeSymbolCache symbols;
};

// Gives `view` (a copy of `base`, with perhaps a new t_s and timeline) the table and graph for
// `inputs`, `findings` and `summaries`, keeping or reordering `base`'s where their inputs are the
// same. `native` is the analysis's native series (null: none). Returns true when the table, the
// graph or the native sites differ from `base`'s.
bool derive_views(const CursorView& base, CursorView& view, const ViewInputs& inputs,
                  const std::vector<model::Finding>& findings,
                  const std::shared_ptr<const model::StreamTable>& summaries, DeriveMemo& memo,
                  const std::shared_ptr<const NativeHistory>& native = nullptr);

// Whether two finding lists draw the same graph (the same streams flagged with the same words).
bool same_findings(const std::vector<model::Finding>& a, const std::vector<model::Finding>& b);

}  // namespace tidemark::viewer
