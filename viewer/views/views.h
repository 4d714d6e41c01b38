// The viewer's views, one file each. Each draws one panel of a session from its ViewState and
// posts events (core/events.h) for anything that should change elsewhere; none calls another.
#pragma once

#include <string>
#include <vector>

#include <imgui.h>

#include "core/events.h"
#include "core/files.h"
#include "core/view_state.h"

namespace tidemark::viewer::views {

// Severity colours shared by every view.
ImU32 severity_color(int severity);

void transport(ViewState& vs, EventBus& bus);             // play/pause, speed, scrub, step, jump
void memory_timeline(ViewState& vs, EventBus& bus);       // rss, heap, external… over time
void streams_table(ViewState& vs, EventBus& bus);         // every stream at the cursor
void stream_detail(ViewState& vs, EventBus& bus);         // the selected stream over time
void pipeline_graph(ViewState& vs, EventBus& bus);        // chains source → sink
void findings(ViewState& vs, EventBus& bus);              // what the detectors found
void native_sites(ViewState& vs, EventBus& bus);          // native allocation sites at the cursor
void native_detail(ViewState& vs, EventBus& bus);         // the selected site over time, its stack

// The in-app file picker (a modal): directory listing and recent files. Posts OpenTrace.
struct FilePicker {
    bool open_requested = false;
    std::string dir = ".";
    std::vector<DirEntry> entries;
    std::string error;
    bool all_files = false;
    bool listed = false;
    char path_buf[1024] = {};
};
void file_picker(FilePicker& picker, RecentFiles& recent, EventBus& bus);

}  // namespace tidemark::viewer::views
