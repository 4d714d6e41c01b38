// Loads a trace for a command and words its problems (see trace_input.h).
#include "trace_input.h"

#include <filesystem>
#include <system_error>

namespace tidemark::agent {

TraceInput load_trace_input(const std::string& path, const model::Timeline::Limits& limits) {
    TraceInput in{model::AnalyzedTrace{model::Analysis(limits), {}, {}, false}, false, {}, false};
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        in.problem = "cannot read " + path + ": no such file; check the path (`tidemark run` writes "
                     "tidemark-<pid>.tidemark in the directory it was started from, or where --out says)";
        return in;
    }
    if (std::filesystem::is_directory(path, ec)) {
        in.problem = "cannot read " + path + ": it is a directory; give the path of a .tidemark file";
        return in;
    }
    in.loaded = model::analyze_trace(path, limits);
    in.anything_readable = !in.loaded.timeline().processes().empty() || !in.loaded.timeline().streams().empty() ||
                           in.loaded.timeline().retired_count() > 0;
    if (!in.loaded.error.empty()) {
        // The model's message names the file and where the damage starts.
        in.problem = in.loaded.error + (in.anything_readable
                                            ? "; re-record it with `tidemark run` for a complete trace"
                                            : "; check that it is a file written by `tidemark run`");
        in.damaged = true;
    } else if (in.loaded.truncated) {
        in.problem = in.loaded.warning.empty()
                         ? path + " has no end marker: the recording was cut short (the agent was "
                                  "killed) or is still going on"
                         : in.loaded.warning + "; if it is still recording, wait for `tidemark run` to finish";
        in.damaged = true;
    }
    return in;
}

}  // namespace tidemark::agent
