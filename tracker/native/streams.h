// Native streams (tidemark/native_streams.h): the program's own queues registered as streams. The
// C API's implementations (tidemark__open, tidemark__write, …, exported from this library) update
// a fixed table of lock-free slots from the program's threads; the sampler thread ships the table
// every tick as the same records the Node tracker sends for its streams — StringDef, StreamCreated
// (kind kKindRegistered), StreamSample, CallSite (writes / pushes after full, with the raw return
// address of the call as "native:0x…", which the agent symbolizes) and StreamEvent.
#pragma once

#include <cstdint>

#include "tidemark/native_encoder.h"

namespace tidemark::native {

// Encodes what changed in the registered streams since the last call (sampler thread only, under
// its tick lock). Records that do not fit are retried next tick.
void ship_streams(proto::FixedFrameEncoder& e, uint64_t now_us);

}  // namespace tidemark::native
