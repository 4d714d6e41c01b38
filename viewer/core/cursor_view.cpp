#include "core/cursor_view.h"

namespace tidemark::viewer {

bool same_findings(const std::vector<model::Finding>& a, const std::vector<model::Finding>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const model::Finding& x = a[i];
        const model::Finding& y = b[i];
        if (x.kind != y.kind || x.severity != y.severity || x.message != y.message || x.site != y.site ||
            x.stream.has_value() != y.stream.has_value() || (x.stream && x.stream->id != y.stream->id))
            return false;
    }
    return true;
}

bool derive_views(const CursorView& base, CursorView& view, const ViewInputs& inputs,
                  const std::vector<model::Finding>& findings,
                  const std::shared_ptr<const model::StreamTable>& summaries, DeriveMemo& memo,
                  const std::shared_ptr<const NativeHistory>& native) {
    bool changed = false;
    const bool same_state = view.timeline == base.timeline && view.t_s == base.t_s;
    std::vector<std::pair<uint64_t, int>> flagged = flagged_streams(findings);
    const TableInputs& was = base.table->inputs();
    if (!same_state || was.flagged != flagged || was.summaries != summaries) {
        TableInputs in;
        in.at_cursor = view.timeline;
        in.t_s = view.t_s;
        in.summaries = summaries;
        in.flagged = std::move(flagged);
        view.table = StreamTableModel::build(std::move(in), inputs.table);
        changed = true;
    } else if (!(base.table->spec() == inputs.table)) {
        view.table = StreamTableModel::resorted(base.table, inputs.table);
        changed = true;
    }
    if (!view.timeline) {
        view.graph.reset();
        changed |= base.graph != nullptr;
    } else if (!same_state || !base.graph || base.inputs.selected_stream != inputs.selected_stream ||
               !same_findings(memo.graph_findings, findings)) {
        view.graph = std::make_shared<GraphLayout>(layout_chains(*view.timeline, findings, inputs.selected_stream));
        memo.graph_findings = findings;
        changed = true;
    }
    if (!view.timeline) {
        view.native.reset();
        changed |= base.native != nullptr;
    } else {
        std::vector<std::pair<uint32_t, int>> native_flagged = flagged_native_sites(findings);
        const NativeTableModel* was_native = base.native.get();
        if (!same_state || !was_native || was_native->inputs().history != native || was_native->inputs().flagged != native_flagged) {
            NativeInputs in;
            in.at_cursor = view.timeline;
            in.t_s = view.t_s;
            in.history = native;
            in.flagged = std::move(native_flagged);
            view.native = NativeTableModel::build(std::move(in), inputs.native, memo.symbols);
            changed = true;
        } else if (!(was_native->spec() == inputs.native)) {
            view.native = NativeTableModel::respecified(base.native, inputs.native, memo.symbols);
            changed = true;
        }
    }
    view.inputs = inputs;
    return changed;
}

}  // namespace tidemark::viewer
