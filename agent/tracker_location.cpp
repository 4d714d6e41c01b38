// Finds the Node tracker next to the running `tidemark` binary (or where TIDEMARK_LIB_DIR says).
#include "tracker_location.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace tidemark::agent {

namespace fs = std::filesystem;

TrackerLocation find_tracker() {
    TrackerLocation loc;
    fs::path dir;
    std::string origin;
    if (const char* env = std::getenv("TIDEMARK_LIB_DIR"); env && *env) {
        dir = env;
        origin = "TIDEMARK_LIB_DIR";
    } else {
        std::error_code ec;
        const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
        if (ec) {
            loc.error = "cannot locate the tidemark binary through /proc/self/exe (" + ec.message() +
                        "); set TIDEMARK_LIB_DIR to the directory holding preload.js";
            return loc;
        }
        dir = (exe.parent_path() / ".." / "lib" / "tidemark").lexically_normal();
        origin = "the tidemark installation";
    }
    std::error_code ec;
    dir = fs::absolute(dir, ec);
    const fs::path preload = dir / "preload.js";
    if (!fs::is_regular_file(preload, ec)) {
        loc.error = "the Node tracker is missing: " + preload.string() + " (from " + origin +
                    ") does not exist; rebuild or reinstall tidemark, or set TIDEMARK_LIB_DIR to "
                    "the directory holding preload.js and tidemark_node.node";
        return loc;
    }
    loc.lib_dir = dir.string();
    loc.preload_path = preload.string();
    const fs::path native = dir / "libtidemark_native.so";
    if (fs::is_regular_file(native, ec)) loc.native_path = native.string();
    return loc;
}

}  // namespace tidemark::agent
