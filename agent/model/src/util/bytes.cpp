// format_bytes (bytes.h).
#include "tidemark/model/util/bytes.h"

#include <cmath>
#include <cstdio>

namespace tidemark::model {

std::string format_bytes(double bytes, SizeUnits units) {
    static const char* binary[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    static const char* decimal[] = {"B", "KB", "MB", "GB", "TB"};
    const char** names = units == SizeUnits::Binary ? binary : decimal;
    const double step = units == SizeUnits::Binary ? 1024.0 : 1000.0;
    int u = 0;
    double v = bytes;
    while (std::fabs(v) >= step && u < 4) { v /= step; ++u; }
    char buf[48];
    if (u == 0) std::snprintf(buf, sizeof buf, "%.0f B", v);
    else std::snprintf(buf, sizeof buf, std::fabs(v) < 10 ? "%.1f %s" : "%.0f %s", v, names[u]);
    return buf;
}

}  // namespace tidemark::model
