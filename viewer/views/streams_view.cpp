// The streams table: every stream at the cursor's time — type, creation site, flowing mode,
// buffered lengths against highWaterMark drawn as bars, writes/pushes after false, state — with
// aggregated short-lived streams as rows of their own. Sort by any column, filter, search;
// selecting a row selects the stream everywhere (its buffer over time, its chain).
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "tidemark/model/util/bytes.h"
#include "views/views.h"
#include "widgets/plot.h"

namespace tidemark::viewer::views {

namespace {

// A bar of `len` against `hwm`: green below it, amber up to 2×, red past; the label says both.
void fill_bar(uint64_t len, uint64_t hwm, float width) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    ImVec2 p = ImGui::GetCursorScreenPos();
    float h = ImGui::GetTextLineHeight();
    double f = hwm ? static_cast<double>(len) / static_cast<double>(hwm) : 0;
    ImU32 col = f > 2 ? IM_COL32(220, 70, 60, 255) : f >= 1 ? IM_COL32(230, 170, 50, 255) : IM_COL32(80, 170, 90, 255);
    dl->AddRectFilled(p, ImVec2(p.x + width, p.y + h), IM_COL32(45, 48, 54, 255));
    // The bar's full width is 2× the highWaterMark; the hwm is the tick in the middle.
    float bw = static_cast<float>(std::min(1.0, f / 2.0)) * width;
    if (len) dl->AddRectFilled(p, ImVec2(p.x + std::max(bw, 1.0f), p.y + h), col);
    dl->AddLine(ImVec2(p.x + width / 2, p.y), ImVec2(p.x + width / 2, p.y + h), IM_COL32(200, 200, 200, 120));
    std::string label = hwm ? format_bytes(len) + " / " + format_bytes(hwm) : (len ? format_bytes(len) : std::string("-"));
    if (hwm && f >= 10) {
        char x[32];
        std::snprintf(x, sizeof x, " (%.0fx)", f);
        label += x;
    }
    dl->AddText(ImVec2(p.x + 4, p.y), IM_COL32(240, 240, 240, 255), label.c_str());
    ImGui::Dummy(ImVec2(width, h));
}

const char* flowing_text(int f) {
    switch (f) {
        case 1: return "true";
        case 0: return "false";
        case -1: return "null";
        default: return "";
    }
}

}  // namespace

void streams_table(ViewState& vs, EventBus& bus) {
    // The rows were built and sorted on the session's cursor thread; a change of sort or filter
    // here is sent with the next update, and its table arrives a frame or two later.
    const StreamTableModel& model = vs.table();
    TableSpec& spec = vs.table_spec();
    TableFilter& f = spec.filter;
    static char buf_storage[256];
    std::snprintf(buf_storage, sizeof buf_storage, "%s", f.text.c_str());
    ImGui::SetNextItemWidth(220);
    if (ImGui::InputTextWithHint("##search", "search type, site or id", buf_storage, sizeof buf_storage))
        f.text = buf_storage;
    ImGui::SameLine();
    ImGui::Checkbox("alive at cursor", &f.only_alive);
    ImGui::SameLine();
    ImGui::Checkbox("flagged only", &f.only_flagged);
    ImGui::SameLine();
    ImGui::Checkbox("aggregates", &f.show_aggregates);
    const std::vector<const StreamRow*>& rows = model.rows();
    ImGui::SameLine();
    ImGui::TextDisabled("%zu of %zu rows", rows.size(), model.total_rows());

    ImGuiTableFlags flags = ImGuiTableFlags_Sortable | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                            ImGuiTableFlags_Resizable | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit;
    if (!ImGui::BeginTable("streams", 9, flags, ImGui::GetContentRegionAvail())) return;
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("id", ImGuiTableColumnFlags_None, 44, static_cast<ImGuiID>(SortColumn::Id));
    ImGui::TableSetupColumn("type", ImGuiTableColumnFlags_None, 140, static_cast<ImGuiID>(SortColumn::Type));
    ImGui::TableSetupColumn("created at", ImGuiTableColumnFlags_None, 180, static_cast<ImGuiID>(SortColumn::Site));
    ImGui::TableSetupColumn("readable / hwm", ImGuiTableColumnFlags_None, 150, static_cast<ImGuiID>(SortColumn::Fill));
    ImGui::TableSetupColumn("writable / hwm", ImGuiTableColumnFlags_DefaultSort | ImGuiTableColumnFlags_PreferSortDescending, 150,
                            static_cast<ImGuiID>(SortColumn::Buffered));
    ImGui::TableSetupColumn("flowing", ImGuiTableColumnFlags_None, 52, static_cast<ImGuiID>(SortColumn::Flowing));
    ImGui::TableSetupColumn("after false", ImGuiTableColumnFlags_PreferSortDescending, 84, static_cast<ImGuiID>(SortColumn::AfterFalse));
    ImGui::TableSetupColumn("peak", ImGuiTableColumnFlags_PreferSortDescending, 64, static_cast<ImGuiID>(SortColumn::Peak));
    ImGui::TableSetupColumn("state", ImGuiTableColumnFlags_None, 64, static_cast<ImGuiID>(SortColumn::State));
    ImGui::TableHeadersRow();
    if (ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs(); specs && specs->SpecsDirty && specs->SpecsCount > 0) {
        const ImGuiTableColumnSortSpecs& s = specs->Specs[0];
        spec.sort = static_cast<SortColumn>(s.ColumnUserID);
        spec.descending = s.SortDirection == ImGuiSortDirection_Descending;
        specs->SpecsDirty = false;
    }
    const std::vector<const StreamRow*>& sorted = rows;
    uint64_t selected = vs.selected_stream();
    // Scroll to the selected row when the selection came from elsewhere.
    static uint64_t scrolled_to = 0;
    std::optional<size_t> sel_index;
    if (selected != scrolled_to) sel_index = model.index_of(selected);
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(sorted.size()));
    if (sel_index) clipper.ForceDisplayRangeByIndices(static_cast<int>(*sel_index), static_cast<int>(*sel_index) + 1);
    while (clipper.Step()) {
        for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
            const StreamRow& r = *sorted[static_cast<size_t>(i)];
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::PushID(i);
            bool is_sel = r.kind == StreamRow::Kind::Stream && r.id == selected;
            char idbuf[32];
            if (r.kind == StreamRow::Kind::Aggregate) std::snprintf(idbuf, sizeof idbuf, "%llux", static_cast<unsigned long long>(r.count));
            else std::snprintf(idbuf, sizeof idbuf, "%llu", static_cast<unsigned long long>(r.id));
            if (r.severity >= 0) ImGui::PushStyleColor(ImGuiCol_Text, severity_color(r.severity));
            if (ImGui::Selectable(idbuf, is_sel, ImGuiSelectableFlags_SpanAllColumns) && r.kind == StreamRow::Kind::Stream)
                bus.post(SelectStream{r.id});
            if (r.severity >= 0) ImGui::PopStyleColor();
            if (is_sel && sel_index) {
                ImGui::SetScrollHereY(0.3f);
                scrolled_to = selected;
            }
            {
                ImVec2 p = ImGui::GetItemRectMin(), q = ImGui::GetItemRectMax();
                if (r.kind == StreamRow::Kind::Stream && vs.hits().size() < 400)
                    vs.hits().push_back({"stream:" + std::to_string(r.id), p.x, p.y, q.x - p.x, q.y - p.y});
            }
            ImGui::TableNextColumn();
            if (r.kind == StreamRow::Kind::Aggregate)
                ImGui::TextDisabled("%.*s (aggregate)", static_cast<int>(r.type.size()), r.type.data());
            else ImGui::TextUnformatted(r.type.data(), r.type.data() + r.type.size());
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(r.site.empty() ? "?" : display_site(std::string(r.site)).c_str());
            if (ImGui::IsItemHovered() && !r.site.empty()) ImGui::SetTooltip("%.*s", static_cast<int>(r.site.size()), r.site.data());
            ImGui::TableNextColumn();
            if (r.kind_bits & proto::kKindReadable) fill_bar(r.readable_length, r.readable_hwm, 146);
            ImGui::TableNextColumn();
            if (r.kind_bits & proto::kKindWritable) fill_bar(r.writable_length, r.writable_hwm, 146);
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(flowing_text(r.flowing));
            ImGui::TableNextColumn();
            if (r.writes_after_false || r.pushes_after_false)
                ImGui::TextColored(ImVec4(1, 0.45f, 0.35f, 1), "%llu / %llu", static_cast<unsigned long long>(r.writes_after_false),
                                   static_cast<unsigned long long>(r.pushes_after_false));
            else ImGui::TextDisabled("0 / 0");
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(format_bytes(std::max(r.peak_readable, r.peak_writable)).c_str());
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(r.state);
            ImGui::PopID();
        }
    }
    ImGui::EndTable();
}

void stream_detail(ViewState& vs, EventBus& bus) {
    uint64_t id = vs.selected_stream();
    if (!id) {
        ImGui::TextDisabled("Select a stream (in the table, the graph or a finding) to see its buffers over time.");
        return;
    }
    const StreamRow* r = vs.table().find(id);
    std::string type = r ? std::string(r->type) : std::string(), site = r && !r->site.empty() ? std::string(r->site) : "?";
    ImGui::Text("#%llu %s", static_cast<unsigned long long>(id), type.c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("created at %s", site.c_str());
    if (r && r->piped_to && !r->piped_to->empty()) {
        ImGui::SameLine();
        std::string to = "piped to";
        for (uint64_t d : *r->piped_to) to += " #" + std::to_string(d);
        ImGui::TextDisabled("%s", to.c_str());
    }
    SelectedHistory h = vs.selected_history();
    if (!h.status.empty()) ImGui::TextDisabled("%s", h.status.c_str());
    if (!h.readable && !h.writable) return;
    std::vector<widgets::PlotLine> lines;
    if (h.readable && !h.readable->empty()) lines.push_back({h.readable, IM_COL32(120, 200, 255, 255), "readableLength"});
    if (h.writable && !h.writable->empty()) lines.push_back({h.writable, IM_COL32(240, 140, 60, 255), "writableLength"});
    widgets::PlotResult res = widgets::plot("stream", ImGui::GetContentRegionAvail(), vs.view_t0(), vs.view_t1(), lines, {},
                                            vs.cursor().t(), [](double v) { return model::format_bytes(v); });
    if (res.cursor_to) bus.post(GoToTime{*res.cursor_to, false});
    if (res.reset_view) vs.reset_view();
    else if (res.view_to) vs.set_view(res.view_to->first, res.view_to->second);
}

}  // namespace tidemark::viewer::views
