#include "widgets/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tidemark::viewer::widgets {

namespace {

ImU32 with_alpha(ImU32 c, int a) { return (c & 0x00ffffffu) | (static_cast<ImU32>(a) << 24); }

}  // namespace

PlotResult plot(const char* id, ImVec2 size, double t0, double t1, const std::vector<PlotLine>& lines,
                const std::vector<PlotMarker>& markers, double cursor_t,
                const std::function<std::string(double)>& format_value) {
    PlotResult res;
    ImGui::PushID(id);
    ImVec2 pos = ImGui::GetCursorScreenPos();
    if (size.x < 50) size.x = 50;
    if (size.y < 40) size.y = 40;
    ImGui::InvisibleButton("plot", size,
                           ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight |
                               ImGuiButtonFlags_MouseButtonMiddle);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float axis_w = 64, bottom_h = 16;
    ImVec2 p0(pos.x + axis_w, pos.y + 4), p1(pos.x + size.x - 4, pos.y + size.y - bottom_h);
    float w = p1.x - p0.x, h = p1.y - p0.y;
    // No filled background: the window's shows through (a software renderer pays per pixel).
    dl->AddRect(p0, p1, IM_COL32(70, 74, 80, 255));
    if (!(t1 > t0)) t1 = t0 + 1;

    double ymax = 0;
    for (const PlotLine& l : lines)
        if (l.series) ymax = std::max(ymax, max_in(*l.series, t0, t1));
    if (ymax <= 0) ymax = 1;
    ymax *= 1.08;
    auto X = [&](double t) { return p0.x + static_cast<float>((t - t0) / (t1 - t0)) * w; };
    auto Y = [&](double v) { return p1.y - static_cast<float>(v / ymax) * h; };

    // Grid and axes.
    char buf[64];
    for (double v : nice_ticks(0, ymax, 4)) {
        float y = Y(v);
        dl->AddLine(ImVec2(p0.x, y), ImVec2(p1.x, y), IM_COL32(50, 54, 60, 255));
        std::string s = format_value(v);
        ImVec2 ts = ImGui::CalcTextSize(s.c_str());
        dl->AddText(ImVec2(p0.x - ts.x - 4, y - ts.y / 2), IM_COL32(160, 160, 160, 255), s.c_str());
    }
    for (double t : nice_ticks(t0, t1, std::max(2, static_cast<int>(w / 110)))) {
        float x = X(t);
        dl->AddLine(ImVec2(x, p0.y), ImVec2(x, p1.y), IM_COL32(40, 44, 50, 255));
        std::snprintf(buf, sizeof buf, "%gs", t);
        dl->AddText(ImVec2(x - 10, p1.y + 1), IM_COL32(140, 140, 140, 255), buf);
    }

    dl->PushClipRect(p0, p1, true);
    // Few triangles per column: each is rasterised in software under llvmpipe, where a frame's
    // cost follows its triangle count. One polyline per series (an integer width takes ImGui's
    // textured anti-aliased path: two triangles per segment), and a column's min–max range only
    // where it spans at least a pixel.
    size_t columns = static_cast<size_t>(std::max(1.0f, w));
    std::vector<ImVec2> points;
    for (const PlotLine& l : lines) {
        if (!l.series || l.series->empty()) continue;
        std::vector<Column> cols = decimate(*l.series, t0, t1, columns);
        points.clear();
        points.reserve(cols.size() + 1);
        // Start from the value holding at t0 so the line reaches the left edge.
        if (std::optional<double> before = value_at(*l.series, t0)) points.emplace_back(p0.x, Y(*before));
        ImU32 band = with_alpha(l.color, 90);
        for (const Column& c : cols) {
            float x = X(c.t0 + (c.t1 - c.t0) / 2);
            float y_hi = Y(c.hi), y_lo = Y(c.lo);
            if (y_lo - y_hi >= 1.0f) dl->AddRectFilled(ImVec2(x - 0.5f, y_hi), ImVec2(x + 0.5f, y_lo), band);
            points.emplace_back(x, Y(c.last));
        }
        if (points.size() >= 2) dl->AddPolyline(points.data(), static_cast<int>(points.size()), l.color, ImDrawFlags_None, 2.0f);
    }
    // Finding markers.
    ImVec2 mouse = ImGui::GetIO().MousePos;
    bool hovered = ImGui::IsItemHovered();
    int marker_hovered = -1;
    for (size_t i = 0; i < markers.size(); ++i) {
        if (markers[i].t_s < t0 || markers[i].t_s > t1) continue;
        float x = X(markers[i].t_s);
        dl->AddLine(ImVec2(x, p0.y), ImVec2(x, p1.y), with_alpha(markers[i].color, 150), 1.0f);
        dl->AddTriangleFilled(ImVec2(x - 6, p0.y), ImVec2(x + 6, p0.y), ImVec2(x, p0.y + 10), markers[i].color);
        if (hovered && std::abs(mouse.x - x) < 6 && mouse.y < p0.y + 14) marker_hovered = static_cast<int>(i);
    }
    // The cursor.
    if (cursor_t >= t0 && cursor_t <= t1) {
        float x = X(cursor_t);
        dl->AddLine(ImVec2(x, p0.y), ImVec2(x, p1.y), IM_COL32(255, 220, 90, 255), 2.0f);
    }
    dl->PopClipRect();

    // Legend.
    float lx = p0.x + 8;
    for (const PlotLine& l : lines) {
        if (!l.series) continue;
        dl->AddRectFilled(ImVec2(lx, p0.y + 6), ImVec2(lx + 10, p0.y + 16), l.color);
        dl->AddText(ImVec2(lx + 14, p0.y + 3), IM_COL32(220, 220, 220, 255), l.label.c_str());
        lx += 24 + ImGui::CalcTextSize(l.label.c_str()).x;
    }

    // Interaction.
    if (hovered && mouse.x >= p0.x && mouse.x <= p1.x) {
        res.hovered = true;
        double t = t0 + (mouse.x - p0.x) / w * (t1 - t0);
        res.hover_t = t;
        dl->AddLine(ImVec2(mouse.x, p0.y), ImVec2(mouse.x, p1.y), IM_COL32(200, 200, 200, 90));
        ImGui::BeginTooltip();
        if (marker_hovered >= 0) {
            ImGui::PushTextWrapPos(420);
            ImGui::TextUnformatted(markers[static_cast<size_t>(marker_hovered)].tip.c_str());
            ImGui::PopTextWrapPos();
        } else {
            ImGui::Text("t = %.2f s", t);
            for (const PlotLine& l : lines) {
                if (!l.series) continue;
                if (auto v = value_at(*l.series, t))
                    ImGui::TextColored(ImColor(l.color), "%s: %s", l.label.c_str(), format_value(*v).c_str());
            }
        }
        ImGui::EndTooltip();
        float wheel = ImGui::GetIO().MouseWheel;
        if (wheel != 0) {
            double f = wheel > 0 ? 0.8 : 1.25;
            double nt0 = t - (t - t0) * f, nt1 = t + (t1 - t) * f;
            res.view_to = std::make_pair(nt0, nt1);
        }
        if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) res.reset_view = true;
        else if (ImGui::IsItemActive() && ImGui::IsMouseDown(ImGuiMouseButton_Left)) {
            if (marker_hovered >= 0 && ImGui::IsMouseClicked(ImGuiMouseButton_Left)) res.marker_clicked = marker_hovered;
            else res.cursor_to = t;
        }
    }
    if (ImGui::IsItemActive() && (ImGui::IsMouseDragging(ImGuiMouseButton_Right) || ImGui::IsMouseDragging(ImGuiMouseButton_Middle))) {
        float dx = ImGui::GetIO().MouseDelta.x;
        double dt = -dx / w * (t1 - t0);
        res.view_to = std::make_pair(t0 + dt, t1 + dt);
    }
    ImGui::PopID();
    return res;
}

}  // namespace tidemark::viewer::widgets
