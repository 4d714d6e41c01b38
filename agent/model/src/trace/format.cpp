// CRC-32 (IEEE 802.3, the zlib polynomial) for chunk payloads, and chunk type names.
#include "tidemark/model/trace/format.h"

#include <array>

namespace tidemark::model::format {
namespace {

constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto kTable = make_table();

}  // namespace

uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc) {
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

const char* chunk_type_name(uint8_t type) {
    switch (static_cast<ChunkType>(type)) {
        case ChunkType::Records: return "records";
        case ChunkType::Keyframe: return "keyframe";
        case ChunkType::Index: return "index";
        case ChunkType::Summary: return "summary";
    }
    return "unknown";
}

}  // namespace tidemark::model::format
