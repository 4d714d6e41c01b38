// The findings: severity, kind, message, evidence and fix. Clicking one selects its stream and
// moves the cursor to its onset (via SelectFinding; ViewState::apply does the rest).
#include <cstdio>

#include "views/views.h"

namespace tidemark::viewer::views {

void findings(ViewState& vs, EventBus& bus) {
    auto a = vs.analysis();
    if (!a) return;
    if (a->findings.empty()) {
        ImGui::TextDisabled(a->done ? "No findings." : "No findings yet (analysing…).");
        return;
    }
    auto sel = vs.selected_finding();
    for (size_t i = 0; i < a->findings.size(); ++i) {
        const model::Finding& f = a->findings[i];
        ImGui::PushID(static_cast<int>(i));
        ImGui::PushStyleColor(ImGuiCol_Text, severity_color(static_cast<int>(f.severity)));
        char head[160];
        std::snprintf(head, sizeof head, "[%s] %s  t=%.1f s", model::severity_name(f.severity), model::finding_kind_name(f.kind),
                      f.onset_s);
        bool clicked = ImGui::Selectable(head, sel && *sel == i);
        ImGui::PopStyleColor();
        ImVec2 p = ImGui::GetItemRectMin(), q = ImGui::GetItemRectMax();
        vs.hits().push_back({"finding:" + std::to_string(i), p.x, p.y, q.x - p.x, q.y - p.y});
        if (clicked) bus.post(SelectFinding{i});
        ImGui::PushTextWrapPos(0);
        ImGui::TextUnformatted(f.message.c_str());
        ImGui::PopTextWrapPos();
        if (sel && *sel == i) {
            if (!f.site.empty()) ImGui::TextDisabled("call site: %s%s%s", f.site.c_str(), f.site_via.empty() ? "" : " via ",
                                                     f.site_via.c_str());
            if (!f.evidence.empty() && ImGui::BeginTable("evidence", 2, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
                for (const auto& [k, v] : f.evidence) {
                    ImGui::TableNextRow();
                    ImGui::TableNextColumn();
                    ImGui::TextDisabled("%s", k.c_str());
                    ImGui::TableNextColumn();
                    ImGui::Text("%.6g", v);
                }
                ImGui::EndTable();
            }
            if (!f.fix.empty()) {
                ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(140, 220, 140, 255));
                ImGui::PushTextWrapPos(0);
                ImGui::TextUnformatted(("fix: " + f.fix).c_str());
                ImGui::PopTextWrapPos();
                ImGui::PopStyleColor();
            }
        }
        ImGui::Separator();
        ImGui::PopID();
    }
}

}  // namespace tidemark::viewer::views
