// The upload-service incident from "Node.js Streams and Buffers" (shared/streams-backpressure-
// article.txt, "The 2 AM OOM Kill"), small enough to run on a laptop:
//
//   fast disk ──pipeline()──▶ ChecksumTransform ──▶ local cache
//                                   │
//                                   └─ write() each chunk to a slow S3 multipart upload,
//                                      ignoring its false, and call back at once
//
// pipeline() applies backpressure along the main chain, but the Transform forwards every chunk
// to a side sink that accepts ~5 MB/s while the disk reads ~40 MB/s, and never waits for 'drain'.
// The upload stream's buffer (Buffer memory outside the JS heap) climbs by ~35 MB/s.
//
// Bounded: the demo stops by itself after 6 s, or once 200 MB sit in the upload buffer.
//   tidemark run -- node examples/upload-incident.js
'use strict';
const { Readable, Transform, Writable, pipeline } = require('stream');
const crypto = require('crypto');

const CHUNK_BYTES = 64 * 1024;
const DISK_BYTES_PER_S = 40e6;   // "a fast local NVMe SSD"
const S3_BYTES_PER_S = 5e6;      // "roughly 5 MB/s due to network throughput constraints"
const STOP_AFTER_MS = 6000;
const STOP_AT_BUFFERED_BYTES = 200e6;

// A file on a fast disk: produces chunks at DISK_BYTES_PER_S for as long as it is read.
class DiskFile extends Readable {
  constructor() {
    super({ highWaterMark: CHUNK_BYTES * 4 });
    this.stopped = false;
    this.budget = 0;
    this.last = Date.now();
  }
  _read() {
    if (this.stopped) return this.push(null);
    const now = Date.now();
    this.budget = Math.min(this.budget + (now - this.last) * DISK_BYTES_PER_S / 1000, CHUNK_BYTES * 16);
    this.last = now;
    if (this.budget < CHUNK_BYTES) { setTimeout(() => this._read(), 5); return; }
    this.budget -= CHUNK_BYTES;
    this.push(Buffer.alloc(CHUNK_BYTES, 0x61));  // filled, so the memory is really used
  }
}

// The S3 multipart upload: accepts S3_BYTES_PER_S.
class S3MultipartUpload extends Writable {
  _write(chunk, encoding, callback) {
    setTimeout(callback, (chunk.length / S3_BYTES_PER_S) * 1000);
  }
}

// The bug: forwards every chunk to the upload and calls back at once, ignoring write()'s false.
class ChecksumTransform extends Transform {
  constructor(upload) {
    super();
    this.upload = upload;
    this.hash = crypto.createHash('sha256');
  }
  _transform(chunk, encoding, callback) {
    this.hash.update(chunk);
    this.upload.write(chunk);  // returns false once the upload is behind — and nobody waits
    callback(null, chunk);
  }
}

// The local cache: fast, keeps nothing.
class LocalCache extends Writable {
  _write(chunk, encoding, callback) { setImmediate(callback); }
}

const disk = new DiskFile();
const upload = new S3MultipartUpload();
const checksum = new ChecksumTransform(upload);
const cache = new LocalCache();

const started = Date.now();
const mb = (n) => (n / 1e6).toFixed(0) + ' MB';
const report = setInterval(() => {
  const buffered = upload.writableLength;
  console.log(`t=${((Date.now() - started) / 1000).toFixed(1)}s  upload buffer ${mb(buffered)}  ` +
              `external ${mb(process.memoryUsage().external)}`);
  if (Date.now() - started >= STOP_AFTER_MS || buffered >= STOP_AT_BUFFERED_BYTES) {
    clearInterval(report);
    console.log(`stopping the demo: ${mb(buffered)} still waiting in the upload stream`);
    disk.stopped = true;
    setTimeout(() => process.exit(0), 200);
  }
}, 500);

pipeline(disk, checksum, cache, (err) => {
  if (err) console.error('pipeline failed:', err.message);
});
