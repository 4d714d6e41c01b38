// The pipeline graph: each chain of streams at the cursor laid out source → sink (core/
// graph_layout.h), links coloured by the pressure on their destination, the broken link drawn
// thick and red with its finding's words. Click a node to select its stream.
#include <algorithm>
#include <cmath>

#include "core/graph_layout.h"
#include "views/views.h"

namespace tidemark::viewer::views {

namespace {

ImU32 pressure_color(Pressure p) {
    switch (p) {
        case Pressure::Idle: return IM_COL32(110, 115, 125, 255);
        case Pressure::Flowing: return IM_COL32(90, 180, 100, 255);
        case Pressure::Full: return IM_COL32(230, 170, 50, 255);
        case Pressure::Overfilled: return IM_COL32(230, 70, 60, 255);
    }
    return IM_COL32(255, 255, 255, 255);
}

std::string fit(const std::string& s, float width) {
    if (ImGui::CalcTextSize(s.c_str()).x <= width) return s;
    std::string t = s;
    while (t.size() > 3 && ImGui::CalcTextSize(("…" + t).c_str()).x > width) t.erase(0, 1);
    return "…" + t;
}

}  // namespace

void pipeline_graph(ViewState& vs, EventBus& bus) {
    auto cv = vs.cursor_view();
    const GraphLayout* layout = vs.graph();
    if (!layout) {
        ImGui::TextDisabled("reading the state at the cursor…");
        return;
    }
    const GraphLayout& g = *layout;
    if (g.chains.empty()) {
        ImGui::TextDisabled("No piped streams and no flagged stream at t = %.2f s.", cv->t_s);
        return;
    }
    if (g.chains_total > g.chains.size())
        ImGui::TextDisabled("%zu of %zu chains (flagged and selected first)", g.chains.size(), g.chains_total);
    ImGui::BeginChild("graph", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    for (size_t ci = 0; ci < g.chains.size(); ++ci) {
        const Chain& c = g.chains[ci];
        ImVec2 origin = ImGui::GetCursorScreenPos();
        // A chain below the visible part takes (about) its room and draws nothing: every triangle
        // costs under a software renderer, even a clipped one. (Only below: the height of those
        // above decides where the visible ones are.)
        if (origin.y > ImGui::GetWindowPos().y + ImGui::GetWindowHeight()) {
            ImGui::Dummy(ImVec2(c.width + 16, c.height + 44));
            ImGui::Separator();
            continue;
        }
        origin.x += 8;
        origin.y += 4;
        ImGui::PushID(static_cast<int>(ci));
        // Links first, under the nodes.
        for (const GraphLink& l : c.links) {
            const GraphNode& s = c.nodes[l.from];
            const GraphNode& d = c.nodes[l.to];
            ImVec2 p(origin.x + s.x + s.w, origin.y + s.y + s.h / 2), q(origin.x + d.x, origin.y + d.y + d.h / 2);
            ImU32 col = pressure_color(l.pressure);
            float th = l.broken ? 4.0f : 2.0f;
            dl->AddBezierCubic(p, ImVec2(p.x + 30, p.y), ImVec2(q.x - 30, q.y), q, col, th, 12);
            dl->AddTriangleFilled(ImVec2(q.x, q.y), ImVec2(q.x - 9, q.y - 5), ImVec2(q.x - 9, q.y + 5), col);
            if (l.broken) {
                ImVec2 mid((p.x + q.x) / 2, (p.y + q.y) / 2);
                dl->AddCircleFilled(mid, 9, IM_COL32(230, 70, 60, 255));
                dl->AddText(ImVec2(mid.x - 3, mid.y - 7), IM_COL32(255, 255, 255, 255), "!");
                ImVec2 mouse = ImGui::GetIO().MousePos;
                if (std::hypot(mouse.x - mid.x, mouse.y - mid.y) < 12 && ImGui::IsWindowHovered()) {
                    ImGui::BeginTooltip();
                    ImGui::PushTextWrapPos(460);
                    ImGui::TextUnformatted(l.note.c_str());
                    ImGui::PopTextWrapPos();
                    ImGui::EndTooltip();
                }
            }
        }
        for (size_t ni = 0; ni < c.nodes.size(); ++ni) {
            const GraphNode& n = c.nodes[ni];
            ImVec2 p(origin.x + n.x, origin.y + n.y), q(p.x + n.w, p.y + n.h);
            ImU32 border = n.severity >= 0 ? severity_color(n.severity) : IM_COL32(90, 95, 105, 255);
            dl->AddRectFilled(p, q, n.id ? IM_COL32(38, 42, 50, 255) : IM_COL32(60, 40, 40, 255), 4);
            // Fill gauge along the bottom: buffered against highWaterMark.
            if (n.id) {
                float f = static_cast<float>(std::min(1.0, n.fill / 2.0));
                ImU32 fc = n.fill > 2 ? IM_COL32(220, 70, 60, 255) : n.fill >= 1 ? IM_COL32(230, 170, 50, 255) : IM_COL32(80, 170, 90, 255);
                dl->AddRectFilled(ImVec2(p.x + 2, q.y - 5), ImVec2(p.x + 2 + (n.w - 4) * f, q.y - 2), fc);
            }
            // Integer widths: ImGui's textured anti-aliased lines, far fewer triangles.
            dl->AddRect(p, q, border, 4, 0, n.selected ? 3.0f : 1.0f);
            dl->AddText(ImVec2(p.x + 6, p.y + 4), IM_COL32(235, 235, 235, 255), fit(n.label, n.w - 12).c_str());
            dl->AddText(ImVec2(p.x + 6, p.y + 20), IM_COL32(150, 150, 150, 255), fit(n.sublabel, n.w - 12).c_str());
            ImGui::SetCursorScreenPos(p);
            ImGui::PushID(static_cast<int>(ni));
            if (ImGui::InvisibleButton("node", ImVec2(n.w, n.h)) && n.id) bus.post(SelectStream{n.id});
            if (ImGui::IsItemHovered()) {
                ImGui::BeginTooltip();
                ImGui::TextUnformatted(n.label.c_str());
                ImGui::TextDisabled("%s", n.sublabel.c_str());
                if (n.id) ImGui::Text("buffered %.1fx its highWaterMark", n.fill);
                ImGui::EndTooltip();
            }
            ImGui::PopID();
        }
        // Words of the broken link under the chain.
        ImGui::SetCursorScreenPos(ImVec2(origin.x - 8, origin.y + c.height + 8));
        for (const GraphLink& l : c.links)
            if (l.broken) {
                ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(240, 120, 100, 255));
                ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + std::max(300.0f, ImGui::GetContentRegionAvail().x - 8));
                std::string words = "broken link → " + c.nodes[l.to].label + ": " + l.note;
                if (words.size() > 400) words = words.substr(0, 400) + "…";
                ImGui::TextUnformatted(words.c_str());
                ImGui::PopTextWrapPos();
                ImGui::PopStyleColor();
                break;
            }
        ImGui::Dummy(ImVec2(c.width + 16, 10));
        ImGui::Separator();
        ImGui::PopID();
    }
    ImGui::EndChild();
}

}  // namespace tidemark::viewer::views
