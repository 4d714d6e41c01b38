// One small time-series plot on ImGui's draw list, reused by every plot in the viewer (ImPlot is
// not packaged in Debian). Draws decimated columns (core/decimate.h: min/max bands and the line),
// y-axis ticks, finding markers and the time cursor; reports hover, clicks and zoom/pan requests
// and leaves every decision to the caller's view-model.
//   left click / drag: move the cursor; wheel: zoom around the mouse; right or middle drag: pan;
//   double click: show everything.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <imgui.h>

#include "core/decimate.h"

namespace tidemark::viewer::widgets {

struct PlotLine {
    const Series* series = nullptr;
    ImU32 color = 0xffffffff;
    std::string label;
};

struct PlotMarker {
    double t_s = 0;
    ImU32 color = 0xff0000ff;
    std::string tip;
};

struct PlotResult {
    bool hovered = false;
    std::optional<double> hover_t;
    std::optional<double> cursor_to;                      // the user moved the cursor here
    std::optional<std::pair<double, double>> view_to;     // zoom / pan: the new visible range
    bool reset_view = false;
    int marker_clicked = -1;
};

// `format_value` writes a y value for the axis and readouts (bytes, ms…).
PlotResult plot(const char* id, ImVec2 size, double t0, double t1, const std::vector<PlotLine>& lines,
                const std::vector<PlotMarker>& markers, double cursor_t,
                const std::function<std::string(double)>& format_value);

}  // namespace tidemark::viewer::widgets
