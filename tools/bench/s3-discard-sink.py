#!/usr/bin/env python3
"""A stand-in for an object store on ANOTHER machine, for tools/bench/store --sink discard.

It speaks the few S3 requests `ckpt listen --store` makes (bucket HEAD/PUT, object HEAD,
multipart create / part / list / complete / abort, list uploads) and throws every body
byte away, remembering only each object's size and metadata so the uploader's final HEAD
(size and image CRC-32C as metadata) agrees. Signatures are not checked. It is NOT a test
double for correctness: the store suite (tools/store/test) runs against a real Ceph RGW.
What it is for: on this 2-vCPU machine the RGW's daemons compete with the capture for
CPU, so "capture while an upload runs" there measures the store as much as ckpt. Against
this sink (run at nice 19, its bodies read in 1 MiB chunks) the cost left is ckpt's own
uploader: reading the spool, its CRC, libcurl's sends, and the kernel's loopback TCP.

Usage: s3-discard-sink.py PORTFILE [MB_PER_S]   (binds 127.0.0.1 on a free port, writes
it to PORTFILE, serves until killed). MB_PER_S paces the bodies it reads, all connections
together (1e6 bytes per MB; 125 is a 1 Gbit/s link): the uploader's sends then wait in TCP
as they would on a network, and an upload lasts as long as it would there.
"""
import http.server
import sys
import threading
import time
import uuid

CHUNK = 1 << 20
rate = 0.0          # bytes per second, 0: as fast as it comes
pace_lock = threading.Lock()
pace_next = 0.0     # when the bytes read so far are due, at `rate`
lock = threading.Lock()
objects = {}   # "bucket/key" -> (size, {meta-header: value})
uploads = {}   # upload id -> {"key": ..., "meta": {...}, "parts": {n: size}}
buckets = set()


def pace(nbytes):
    """Sleeps until nbytes more are due at `rate` (one schedule for every connection)."""
    global pace_next
    if not rate:
        return
    with pace_lock:
        now = time.monotonic()
        pace_next = max(pace_next, now) + nbytes / rate
        wait = pace_next - now
    if wait > 0:
        time.sleep(wait)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def split(self):
        path, _, query = self.path.partition("?")
        parts = path.lstrip("/").split("/", 1)
        q = {}
        for kv in query.split("&") if query else []:
            k, _, v = kv.partition("=")
            q[k] = v
        return parts[0], (parts[1] if len(parts) > 1 else ""), q

    def drain(self):
        n = int(self.headers.get("Content-Length", "0"))
        left = n
        while left:
            b = self.rfile.read(min(CHUNK, left))
            if not b:
                break
            left -= len(b)
            pace(len(b))
        return n

    def answer(self, status=200, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def not_found(self, code):
        self.answer(404, f"<Error><Code>{code}</Code></Error>".encode(), [("Content-Type", "application/xml")])

    def do_HEAD(self):
        bucket, key, _ = self.split()
        with lock:
            if not key:
                return self.answer(200) if bucket in buckets else self.answer(404)
            o = objects.get(f"{bucket}/{key}")
        if o is None:
            return self.answer(404)
        size, meta = o
        self.send_response(200)
        for k, v in meta.items():
            self.send_header(k, v)
        self.send_header("ETag", '"discarded"')
        self.send_header("Content-Length", str(size))
        self.end_headers()

    def do_PUT(self):
        bucket, key, q = self.split()
        n = self.drain()
        with lock:
            if not key:
                buckets.add(bucket)
                return self.answer(200)
            if "uploadId" in q:
                u = uploads.get(q["uploadId"])
                if u is None:
                    return self.not_found("NoSuchUpload")
                u["parts"][int(q["partNumber"])] = n
                return self.answer(200, headers=[("ETag", f'"part{q["partNumber"]}"')])
            objects[f"{bucket}/{key}"] = (n, self.meta())
        self.answer(200, headers=[("ETag", '"discarded"')])

    def meta(self):
        return {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-amz-meta-")}

    def do_POST(self):
        bucket, key, q = self.split()
        self.drain()
        with lock:
            if "uploads" in q:
                uid = uuid.uuid4().hex
                uploads[uid] = {"key": f"{bucket}/{key}", "meta": self.meta(), "parts": {}}
                body = f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}</Key>" \
                       f"<UploadId>{uid}</UploadId></InitiateMultipartUploadResult>"
                return self.answer(200, body.encode(), [("Content-Type", "application/xml")])
            u = uploads.pop(q.get("uploadId", ""), None)
            if u is None:
                return self.not_found("NoSuchUpload")
            objects[u["key"]] = (sum(u["parts"].values()), u["meta"])
        self.answer(200, b"<CompleteMultipartUploadResult><ETag>\"discarded\"</ETag></CompleteMultipartUploadResult>",
                    [("Content-Type", "application/xml")])

    def do_GET(self):
        bucket, key, q = self.split()
        with lock:
            if "uploadId" in q:
                u = uploads.get(q["uploadId"])
                if u is None:
                    return self.not_found("NoSuchUpload")
                parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>\"part{n}\"</ETag><Size>{s}</Size></Part>"
                                for n, s in sorted(u["parts"].items()))
                body = f"<ListPartsResult><IsTruncated>false</IsTruncated>{parts}</ListPartsResult>"
            elif "uploads" in q:
                body = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>"
            else:
                body = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"
        self.answer(200, body.encode(), [("Content-Type", "application/xml"),
                                         ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))])

    def do_DELETE(self):
        _, _, q = self.split()
        with lock:
            uploads.pop(q.get("uploadId", ""), None)
        self.answer(204)


def main():
    global rate
    if len(sys.argv) > 2:
        rate = float(sys.argv[2]) * 1e6
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(f"{server.server_address[1]}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
