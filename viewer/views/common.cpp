#include "views/views.h"

namespace tidemark::viewer::views {

ImU32 severity_color(int severity) {
    switch (severity) {
        case 2: return IM_COL32(235, 80, 70, 255);    // error
        case 1: return IM_COL32(240, 170, 50, 255);   // warning
        case 0: return IM_COL32(100, 160, 235, 255);  // info
        default: return IM_COL32(200, 200, 200, 255);
    }
}

}  // namespace tidemark::viewer::views
