#!/usr/bin/env python3
"""Load on the daemon (aj serve): SSE clients, job polling, conversions.

    serve_load.py --aj PATH [--seconds 60] [--sse 100] [--rate 50]
                  [--files 8] [--file-seconds 20]

Starts `aj serve` on 127.0.0.1 (a free port) with a library of generated
WAVs (stereo 16-bit 44.1 kHz noise), then for --seconds:

  * keeps --sse connections open on GET /api/v1/events, reading every event;
    a connection that ends or fails before the end is counted as dropped;
  * submits conversions continuously (the library to FLAC, overwriting), one
    more whenever fewer than two are queued or running;
  * polls at --rate requests per second, alternating GET /api/v1/jobs/{id}
    (the latest job) and GET /api/v1/jobs, and times each answer.

Prints a Markdown table: polls, their p50/p99/max latency, errors (any
non-2xx answer or failed request), SSE connections dropped, events
received, jobs done, the daemon's peak RSS (VmHWM in /proc/PID/status) and
the load average. Python standard library only.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave


def make_library(lib, files, seconds):
    """Noise WAVs with a fixed seed: FLAC cannot shrink them much, so the
    encoder works as hard as on real music."""
    rng = random.Random(7)
    os.makedirs(os.path.join(lib, "in"), exist_ok=True)
    frames = 44_100 * seconds
    block = bytes(rng.getrandbits(8) for _ in range(4 * 44_100))
    for i in range(files):
        with wave.open(os.path.join(lib, "in", f"{i:03}.wav"), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(44_100)
            left = frames
            while left > 0:
                n = min(left, 44_100)
                # Shift the block so that files differ.
                shift = (i * 4 + left) % len(block)
                data = (block[shift:] + block[:shift])[: 4 * n]
                w.writeframes(data)
                left -= n


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(host, port, method, path, body=None, timeout=30):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        return r.status, data
    finally:
        c.close()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = []
        self.errors = 0
        self.error_samples = []
        self.sse_events = 0
        self.sse_dropped = 0
        self.sse_open = 0
        self.submitted = 0
        self.submit_errors = 0

    def error(self, what):
        with self.lock:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(what)


def sse_client(host, port, stop, stats, ready):
    try:
        c = http.client.HTTPConnection(host, port, timeout=60)
        c.request("GET", "/api/v1/events", headers={"Accept": "text/event-stream"})
        r = c.getresponse()
        if r.status != 200:
            stats.error(f"SSE status {r.status}")
            with stats.lock:
                stats.sse_dropped += 1
            ready.release()
            return
        with stats.lock:
            stats.sse_open += 1
        ready.release()
        # The socket stays open after stop: the main thread counts drops
        # before closing.
        while not stop.is_set():
            line = r.fp.readline()
            if not line:
                if not stop.is_set():
                    with stats.lock:
                        stats.sse_dropped += 1
                return
            if line.startswith(b"data:"):
                with stats.lock:
                    stats.sse_events += 1
    except Exception as e:  # noqa: BLE001 - every failure is counted
        if not stop.is_set():
            with stats.lock:
                stats.sse_dropped += 1
            stats.error(f"SSE: {e}")
        ready.release()


def submitter(host, port, lib, stop, stats, latest):
    n = 0
    while not stop.is_set():
        try:
            status, data = request(host, port, "GET", "/api/v1/jobs?state=")
            jobs = json.loads(data)["jobs"] if status == 200 else []
            active = sum(1 for j in jobs if j["state"] in ("queued", "running"))
        except Exception:  # noqa: BLE001
            active = 0
        if active < 2:
            n += 1
            spec = {
                "kind": "convert",
                "inputs": [os.path.join(lib, "in")],
                "format": "flac",
                "output_dir": os.path.join(lib, "out", str(n % 4)),
                "overwrite": True,
            }
            try:
                status, data = request(host, port, "POST", "/api/v1/jobs", json.dumps(spec))
                if status == 202:
                    latest[0] = json.loads(data)["id"]
                    with stats.lock:
                        stats.submitted += 1
                else:
                    with stats.lock:
                        stats.submit_errors += 1
            except Exception:  # noqa: BLE001
                with stats.lock:
                    stats.submit_errors += 1
        stop.wait(0.5)


def poller(host, port, rate, seconds, stats, latest, workers=8):
    """Open-loop schedule: request k is due at start + k/rate, whatever the
    previous answers took (late ones are sent at once, and their latency is
    measured from when they were sent)."""
    start = time.monotonic()
    total = int(rate * seconds)
    counter = [0]
    lock = threading.Lock()

    def work():
        conn = None
        while True:
            with lock:
                k = counter[0]
                if k >= total:
                    break
                counter[0] += 1
            due = start + k / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            path = "/api/v1/jobs" if k % 2 else f"/api/v1/jobs/{latest[0] or 1}"
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                dt = time.monotonic() - t0
                ok = 200 <= r.status < 300
                if not ok:
                    stats.error(f"GET {path}: {r.status}")
                with stats.lock:
                    stats.latencies.append(dt)
            except Exception as e:  # noqa: BLE001
                stats.error(f"GET {path}: {e}")
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def vm(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])  # kB
    except OSError:
        pass
    return None


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values))) - 1))
    return sorted_values[i]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aj", required=True)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--sse", type=int, default=100)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--file-seconds", type=int, default=20)
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="aj-serve-load.")
    lib = os.path.join(work, "lib")
    data = os.path.join(work, "data")
    os.makedirs(lib)
    make_library(lib, a.files, a.file_seconds)
    port = free_port()
    daemon = subprocess.Popen(
        [a.aj, "serve", "--listen", f"127.0.0.1:{port}", "--library", lib, "--data", data],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, AJ_CONFIG=os.path.join(work, "config.toml")),
    )
    try:
        first = daemon.stdout.readline().decode()
        if "listening on" not in first:
            sys.exit(f"aj serve did not start: {first!r}")
        threading.Thread(target=lambda: daemon.stdout.read(), daemon=True).start()
        host = "127.0.0.1"
        base_rss = vm(daemon.pid, "VmRSS")
        stats = Stats()
        stop = threading.Event()
        ready = threading.Semaphore(0)
        sse = [
            threading.Thread(target=sse_client, args=(host, port, stop, stats, ready), daemon=True)
            for _ in range(a.sse)
        ]
        for t in sse:
            t.start()
        for _ in sse:
            ready.acquire()
        latest = [None]
        sub = threading.Thread(target=submitter, args=(host, port, lib, stop, stats, latest))
        sub.start()
        time.sleep(1)  # the first conversion is under way
        peak_rss = 0
        sampling = threading.Event()

        def sample():
            nonlocal peak_rss
            while not sampling.is_set():
                peak_rss = max(peak_rss, vm(daemon.pid, "VmRSS") or 0)
                sampling.wait(0.5)

        sampler = threading.Thread(target=sample)
        sampler.start()
        t0 = time.monotonic()
        poller(host, port, a.rate, a.seconds, stats, latest)
        elapsed = time.monotonic() - t0
        load = os.getloadavg()
        # Drops are counted up to here; then everything stops.
        with stats.lock:
            dropped = stats.sse_dropped
            still_open = stats.sse_open - stats.sse_dropped
        stop.set()
        sampling.set()
        sub.join()
        sampler.join()
        hwm = vm(daemon.pid, "VmHWM")
        _, body = request(host, port, "GET", "/api/v1/jobs")
        jobs = json.loads(body)["jobs"]
        done = sum(1 for j in jobs if j["state"] == "done")
        failed = sum(1 for j in jobs if j["state"] == "failed")
        converted = sum((j.get("summary") or {}).get("ok", 0) for j in jobs)
    finally:
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        shutil.rmtree(work, ignore_errors=True)

    lat = sorted(stats.latencies)
    ms = lambda v: f"{v * 1000:.1f} ms"  # noqa: E731
    rows = [
        ("duration", f"{elapsed:.1f} s"),
        ("polls (GET /jobs/{id} and /jobs, alternating)", f"{len(lat)} ({len(lat) / elapsed:.1f}/s)"),
        ("poll latency p50", ms(pct(lat, 50))),
        ("poll latency p99", ms(pct(lat, 99))),
        ("poll latency max", ms(lat[-1]) if lat else "-"),
        ("errors (non-2xx or failed requests)", str(stats.errors)),
        ("SSE connections open at the end", f"{still_open} of {a.sse}"),
        ("SSE connections dropped", str(dropped)),
        ("SSE events received (all clients)", str(stats.sse_events)),
        ("jobs submitted / done / failed", f"{stats.submitted} / {done} / {failed}"),
        ("files converted", str(converted)),
        ("daemon RSS at start", f"{(base_rss or 0) / 1024:.1f} MiB"),
        ("daemon peak RSS (VmHWM)", f"{(hwm or peak_rss) / 1024:.1f} MiB"),
        ("load average (1/5/15 min) at the end", " / ".join(f"{x:.2f}" for x in load)),
    ]
    print("| measure | value |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    if stats.error_samples:
        print("\nFirst errors: " + "; ".join(stats.error_samples))
    ok = stats.errors == 0 and dropped == 0 and stats.submit_errors == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
