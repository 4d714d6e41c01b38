// Where the Node tracker (preload.js + tidemark_node.node) lives, so `tidemark run` can hand it to
// the target. Installed and build trees share one layout: <prefix>/bin/tidemark beside
// <prefix>/lib/tidemark/; the environment variable TIDEMARK_LIB_DIR overrides it.
#pragma once

#include <string>

namespace tidemark::agent {

struct TrackerLocation {
    std::string lib_dir;       // directory holding the tracker files ("" when not found)
    std::string preload_path;  // <lib_dir>/preload.js
    std::string native_path;   // <lib_dir>/libtidemark_native.so ("" when it is not there)
    std::string error;         // why it was not found, with what to do (empty on success)
};

TrackerLocation find_tracker();

}  // namespace tidemark::agent
