// The native allocation sites (tidemark run --native): each process's mode and totals, then one row
// per site at the cursor — where it allocates, live bytes, live allocations, peak, growth over the
// trailing window, total allocated — sorted and filtered; below, the selected site's live bytes
// over time and its whole stack. Rows, growth and symbols are made on the session's cursor thread
// (core/native_table.h); this only draws them and posts events.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "tidemark/model/util/bytes.h"
#include "views/views.h"
#include "widgets/plot.h"

namespace tidemark::viewer::views {

namespace {

std::string growth_text(const std::optional<double>& g) {
    if (!g) return "-";
    if (*g == 0) return "0 B/s";
    return (*g > 0 ? "+" : "-") + model::format_bytes(*g > 0 ? *g : -*g) + "/s";
}

// "~" before a figure estimated from sampled allocations.
std::string est(bool estimate, const std::string& s) { return estimate ? "~" + s : s; }

}  // namespace

void native_sites(ViewState& vs, EventBus& bus) {
    const NativeTableModel* model = vs.native();
    if (!model) {
        ImGui::TextDisabled("reading the state at the cursor…");
        return;
    }
    if (!model->any()) {
        if (auto a = vs.analysis(); a && a->native)
            ImGui::TextDisabled("no native allocations recorded yet at t = %.2f s", vs.cursor_view()->t_s);
        else ImGui::TextDisabled("no native tracking in this trace (record with tidemark run --native)");
        return;
    }
    NativeSpec& spec = vs.native_spec();
    for (const NativeProcessRow& p : model->processes()) {
        ImGui::Text("pid %u", p.pid);
        ImGui::SameLine();
        if (p.mode == proto::NativeMode::Sampled)
            ImGui::TextColored(ImVec4(0.95f, 0.75f, 0.35f, 1), "sampled: estimates (~), one sample per ~%s allocated",
                               model::format_bytes(static_cast<double>(p.sample_interval_bytes)).c_str());
        else ImGui::TextDisabled("%s: exact", native_mode_name(p.mode));
        ImGui::SameLine();
        ImGui::TextDisabled("| live %s in %" PRIu64 " sites | mmap %s", est(p.mode == proto::NativeMode::Sampled, model::format_bytes(static_cast<double>(p.live_bytes))).c_str(),
                            p.sites, model::format_bytes(static_cast<double>(p.mmap_bytes > p.munmap_bytes ? p.mmap_bytes - p.munmap_bytes : 0)).c_str());
        if (p.untracked) {
            ImGui::SameLine();
            ImGui::TextColored(ImVec4(1, 0.45f, 0.35f, 1), "| %" PRIu64 " allocations not attributed (site table full)", p.untracked);
        }
    }
    static char filter_buf[256];
    std::snprintf(filter_buf, sizeof filter_buf, "%s", spec.filter.c_str());
    ImGui::SetNextItemWidth(260);
    if (ImGui::InputTextWithHint("##nsearch", "search function, file or site id", filter_buf, sizeof filter_buf)) spec.filter = filter_buf;
    if (model->processes().size() > 1) {
        ImGui::SameLine();
        ImGui::SetNextItemWidth(140);
        std::string current = spec.proc == kAnyProc ? "all processes" : "pid " + std::to_string(model->process(spec.proc) ? model->process(spec.proc)->pid : 0);
        if (ImGui::BeginCombo("##nproc", current.c_str())) {
            if (ImGui::Selectable("all processes", spec.proc == kAnyProc)) spec.proc = kAnyProc;
            for (const NativeProcessRow& p : model->processes())
                if (ImGui::Selectable(("pid " + std::to_string(p.pid)).c_str(), spec.proc == p.proc)) spec.proc = p.proc;
            ImGui::EndCombo();
        }
    }
    const auto& rows = model->rows();
    ImGui::SameLine();
    if (model->matching_rows() > rows.size())
        ImGui::TextDisabled("first %zu of %zu matching, %zu sites", rows.size(), model->matching_rows(), model->total_rows());
    else ImGui::TextDisabled("%zu of %zu sites", rows.size(), model->total_rows());

    ImGuiTableFlags flags = ImGuiTableFlags_Sortable | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_Resizable |
                            ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit;
    if (!ImGui::BeginTable("native", 7, flags, ImGui::GetContentRegionAvail())) return;
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("site", ImGuiTableColumnFlags_NoSort, 44);
    ImGui::TableSetupColumn("allocated in", ImGuiTableColumnFlags_WidthStretch, 0, static_cast<ImGuiID>(NativeSort::Location));
    ImGui::TableSetupColumn("live bytes", ImGuiTableColumnFlags_DefaultSort | ImGuiTableColumnFlags_PreferSortDescending, 90,
                            static_cast<ImGuiID>(NativeSort::LiveBytes));
    ImGui::TableSetupColumn("live allocs", ImGuiTableColumnFlags_PreferSortDescending, 96, static_cast<ImGuiID>(NativeSort::LiveAllocations));
    ImGui::TableSetupColumn("peak", ImGuiTableColumnFlags_PreferSortDescending, 80, static_cast<ImGuiID>(NativeSort::Peak));
    ImGui::TableSetupColumn("growth (10 s)", ImGuiTableColumnFlags_PreferSortDescending, 116, static_cast<ImGuiID>(NativeSort::Growth));
    ImGui::TableSetupColumn("allocated", ImGuiTableColumnFlags_PreferSortDescending, 84, static_cast<ImGuiID>(NativeSort::TotalAllocated));
    ImGui::TableHeadersRow();
    if (ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs(); specs && specs->SpecsDirty && specs->SpecsCount > 0) {
        const ImGuiTableColumnSortSpecs& s = specs->Specs[0];
        spec.sort = static_cast<NativeSort>(s.ColumnUserID);
        spec.descending = s.SortDirection == ImGuiSortDirection_Descending;
        specs->SpecsDirty = false;
    }
    const auto& sel = model->selection();
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(rows.size()));
    while (clipper.Step()) {
        for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
            const NativeRow& r = *rows[static_cast<size_t>(i)];
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::PushID(i);
            const bool is_sel = sel && sel->proc == r.proc && sel->site == r.site;
            char idbuf[32];
            std::snprintf(idbuf, sizeof idbuf, "%u", r.site);
            if (r.severity >= 0) ImGui::PushStyleColor(ImGuiCol_Text, severity_color(r.severity));
            if (ImGui::Selectable(idbuf, is_sel, ImGuiSelectableFlags_SpanAllColumns)) {
                SelectNativeSite ev;  // a click on the selected row clears the selection
                ev.clear = is_sel;
                ev.proc = r.proc;
                ev.site = r.site;
                bus.post(std::move(ev));
            }
            if (r.severity >= 0) ImGui::PopStyleColor();
            {
                ImVec2 p = ImGui::GetItemRectMin(), q = ImGui::GetItemRectMax();
                if (vs.hits().size() < 400)
                    vs.hits().push_back({"native:" + std::to_string(r.pid) + ":" + std::to_string(r.site), p.x, p.y, q.x - p.x, q.y - p.y});
            }
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(r.location.c_str());
            if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s (pid %u)", r.location.c_str(), r.pid);
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(est(r.estimate, format_bytes(r.live_bytes)).c_str());
            ImGui::TableNextColumn();
            ImGui::Text("%s%" PRIu64, r.estimate ? "~" : "", r.live_allocations);
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(est(r.estimate, format_bytes(r.peak_live_bytes)).c_str());
            ImGui::TableNextColumn();
            if (r.growth_bytes_per_s && *r.growth_bytes_per_s > 0)
                ImGui::TextColored(ImVec4(1, 0.55f, 0.4f, 1), "%s", est(r.estimate, growth_text(r.growth_bytes_per_s)).c_str());
            else ImGui::TextDisabled("%s", growth_text(r.growth_bytes_per_s).c_str());
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(est(r.estimate, format_bytes(r.total_allocated)).c_str());
            ImGui::PopID();
        }
    }
    ImGui::EndTable();
}

void native_detail(ViewState& vs, EventBus& bus) {
    const NativeTableModel* model = vs.native();
    const auto* sel = model && model->selection() ? &*model->selection() : nullptr;
    if (!sel) {
        if (model && model->any())
            ImGui::TextDisabled("%s", model->spec().selected ? "The selected site has no allocations at the cursor." :
                                      "Select a site (in the table or a native-leak finding) to see its live bytes over time and its stack.");
        return;
    }
    const NativeProcessRow* p = model->process(sel->proc);
    ImGui::Text("site %u", sel->site);
    ImGui::SameLine();
    ImGui::TextUnformatted(sel->location.c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("pid %u%s%s", p ? p->pid : 0, p && p->mode == proto::NativeMode::Sampled ? " · sampled: live bytes are estimates" : "",
                        sel->whole_history ? "" : " · only since the cursor's keyframe (the analysis keeps no series of it)");
    ImVec2 avail = ImGui::GetContentRegionAvail();
    const float stack_w = std::min(520.0f, avail.x * 0.45f);
    ImGui::BeginChild("nplot", ImVec2(avail.x - stack_w - 8, avail.y));
    if (!sel->live_bytes.empty()) {
        std::vector<widgets::PlotLine> lines{{&sel->live_bytes, IM_COL32(230, 120, 200, 255), "live bytes"}};
        widgets::PlotResult res = widgets::plot("native", ImGui::GetContentRegionAvail(), vs.view_t0(), vs.view_t1(), lines, {},
                                                vs.cursor().t(), [](double v) { return model::format_bytes(v); });
        if (res.cursor_to) bus.post(GoToTime{*res.cursor_to, false});
        if (res.reset_view) vs.reset_view();
        else if (res.view_to) vs.set_view(res.view_to->first, res.view_to->second);
    } else {
        ImGui::TextDisabled("no points of it yet");
    }
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("nstack", ImVec2(stack_w, avail.y), false, ImGuiWindowFlags_HorizontalScrollbar);
    ImGui::TextDisabled("stack, innermost first (%zu frames)", sel->frames.size());
    for (const std::string& f : sel->frames) {
        const bool is_loc = f == sel->location;
        if (is_loc) ImGui::TextColored(ImVec4(1, 0.85f, 0.4f, 1), "%s", f.c_str());
        else ImGui::TextUnformatted(f.c_str());
    }
    ImGui::EndChild();
}

}  // namespace tidemark::viewer::views
