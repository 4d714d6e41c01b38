// The memory timeline: rss, heapUsed, heapTotal, external, arrayBuffers, the bytes buffered in
// streams and (under --native) the native tracker's live bytes, with the event-loop delay below;
// zoom (wheel), pan (right drag), hover readouts, finding markers (click one to go to it) and the
// cursor (click or drag to move it).
#include <algorithm>
#include <string>

#include "tidemark/model/util/bytes.h"
#include "views/views.h"
#include "widgets/plot.h"

namespace tidemark::viewer::views {


void memory_timeline(ViewState& vs, EventBus& bus) {
    auto a = vs.analysis();
    MemoryOptions& tg = vs.memory_options();
    std::vector<const ProcessView*> procs;
    if (a)
        for (const ProcessView& p : a->processes)
            if (!p.rss.empty()) procs.push_back(&p);
    if (procs.size() > 1) {
        ImGui::SetNextItemWidth(220);
        std::string cur = "pid " + std::to_string(procs[static_cast<size_t>(std::min<int>(tg.proc_index, int(procs.size()) - 1))]->pid);
        if (ImGui::BeginCombo("##proc", cur.c_str())) {
            for (size_t i = 0; i < procs.size(); ++i) {
                std::string l = "pid " + std::to_string(procs[i]->pid) + "  " + procs[i]->cmdline.substr(0, 60);
                if (ImGui::Selectable(l.c_str(), int(i) == tg.proc_index)) tg.proc_index = int(i);
            }
            ImGui::EndCombo();
        }
        ImGui::SameLine();
    }
    const std::pair<const char*, bool*> toggles[] = {{"rss", &tg.rss},           {"heapUsed", &tg.heap_used},
                                                     {"heapTotal", &tg.heap_total}, {"external", &tg.external},
                                                     {"arrayBuffers", &tg.array_buffers}, {"stream buffers", &tg.streams}};
    for (const auto& [label, on] : toggles) {
        ImGui::Checkbox(label, on);
        ImGui::SameLine();
    }
    const ProcessView* p = procs.empty() ? nullptr : procs[static_cast<size_t>(std::min<int>(tg.proc_index, int(procs.size()) - 1))];
    if (p && p->native) {  // only when the process was run with --native
        ImGui::Checkbox("native live", &tg.native_live);
        ImGui::SameLine();
    }
    if (ImGui::SmallButton("all")) vs.reset_view();

    std::vector<widgets::PlotLine> lines;
    if (p) {
        if (tg.rss) lines.push_back({&p->rss, IM_COL32(120, 200, 255, 255), "rss"});
        if (tg.heap_used) lines.push_back({&p->heap_used, IM_COL32(120, 230, 120, 255), "heapUsed"});
        if (tg.heap_total) lines.push_back({&p->heap_total, IM_COL32(70, 150, 70, 255), "heapTotal"});
        if (tg.external) lines.push_back({&p->external, IM_COL32(240, 140, 60, 255), "external"});
        if (tg.array_buffers) lines.push_back({&p->array_buffers, IM_COL32(220, 100, 200, 255), "arrayBuffers"});
        if (tg.streams) lines.push_back({&p->stream_buffered, IM_COL32(240, 230, 90, 255), "stream buffers"});
        if (p->native && tg.native_live) lines.push_back({&p->native_live, IM_COL32(250, 110, 110, 255), "native live"});
    }
    std::vector<widgets::PlotMarker> markers;
    if (a)
        for (const model::Finding& f : a->findings)
            markers.push_back({f.onset_s, severity_color(static_cast<int>(f.severity)),
                               std::string(model::finding_kind_name(f.kind)) + " at " + std::to_string(f.onset_s).substr(0, 6) +
                                   " s: " + f.message});
    auto bytes = [](double v) { return model::format_bytes(v); };
    ImVec2 avail = ImGui::GetContentRegionAvail();
    float delay_h = std::max(50.0f, avail.y * 0.22f);
    double t0 = vs.view_t0(), t1 = vs.view_t1();
    widgets::PlotResult r = widgets::plot("memory", ImVec2(avail.x, avail.y - delay_h - 4), t0, t1, lines, markers,
                                          vs.cursor().t(), bytes);
    auto handle = [&](const widgets::PlotResult& res) {
        if (res.marker_clicked >= 0 && a) {
            // Markers are in findings order.
            bus.post(SelectFinding{static_cast<size_t>(res.marker_clicked)});
        } else if (res.cursor_to) {
            bus.post(GoToTime{*res.cursor_to, false});
        }
        if (res.reset_view) vs.reset_view();
        else if (res.view_to) vs.set_view(res.view_to->first, res.view_to->second);
    };
    handle(r);
    std::vector<widgets::PlotLine> delay;
    if (p) delay.push_back({&p->loop_delay_max_ms, IM_COL32(200, 120, 120, 255), "event-loop delay (max)"});
    widgets::PlotResult r2 = widgets::plot("delay", ImVec2(avail.x, delay_h), t0, t1, delay, {}, vs.cursor().t(),
                                           [](double v) { return std::to_string(static_cast<int>(v)) + " ms"; });
    handle(r2);
}

}  // namespace tidemark::viewer::views
