"""The Python load generator of ``api_throughput.py``, used when ``wrk`` is not installed.

    python bench/loadgen.py SPEC.json RESULT.json

Runs in its own process (standard library only, plus uvloop when present, so it starts fast and its CPU
is measurable apart from the orchestrator): ``concurrency`` asyncio tasks, each on its own keep-alive
connection to 127.0.0.1, replay pre-signed raw HTTP/1.1 requests from the spec's pool for ``warmup_s``
then ``duration_s`` seconds, and check every answer (status 200, the expected number of cluster ARNs of
the seeded set, an empty ``failures`` list where asked). Only requests that start after the warm-up and
finish before the end are measured; latencies go to a histogram in microseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
IO_TIMEOUT_S = 5.0

# A cluster ARN of the seeded set in a JSON answer: "arn:aws:ecs:<region>:<acct>:cluster/bench-NNN".
# api_throughput.py's Lua pattern for wrk matches the same strings.
ARN_REGEX = re.compile(rb':cluster/bench-\d+"')
EMPTY_FAILURES_REGEX = re.compile(rb'"failures"\s*:\s*\[\s*\]')


def answer_ok(body: bytes, arn_count: int, empty_failures: bool) -> bool:
    """The check applied to every answer under load (the same as the Lua one in the wrk script)."""
    if len(ARN_REGEX.findall(body)) != arn_count:
        return False
    return not empty_failures or EMPTY_FAILURES_REGEX.search(body) is not None


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, content-length, server-closes) from a response head; chunked bodies are not expected."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = -1
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        lname = name.strip().lower()
        if lname == "content-length":
            length = int(value.strip())
        elif lname == "connection":
            close = value.strip().lower() == "close"
        elif lname == "transfer-encoding":
            raise ValueError("chunked response")
    if length < 0:
        raise ValueError("response without Content-Length")
    return status, length, close


async def _py_worker(
    port: int,
    pool: list[bytes],
    offset: int,
    spec: dict[str, Any],
    measure_from: float,
    stop_at: float,
    result: dict[str, Any],
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    i = offset
    hist: dict[int, float] = result["hist"]
    errors: dict[str, int] = result["error_detail"]
    while time.perf_counter() < stop_at:
        if writer is None:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), IO_TIMEOUT_S)
            except (OSError, TimeoutError):
                errors["connect"] += 1
                await asyncio.sleep(0.01)
                continue
        assert reader is not None
        raw = pool[i % len(pool)]
        i += 1
        started = time.perf_counter()
        try:
            writer.write(raw)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IO_TIMEOUT_S)
            status, length, close = parse_head(head[:-4])
            body = await asyncio.wait_for(reader.readexactly(length), IO_TIMEOUT_S)
        except TimeoutError:
            errors["timeout"] += 1
            writer.close()
            writer = None
            continue
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            errors["read"] += 1
            writer.close()
            writer = None
            continue
        finished = time.perf_counter()
        if close:
            writer.close()
            writer = None
        if started < measure_from or finished > stop_at:
            continue
        result["requests"] += 1
        micros = int((finished - started) * 1e6)
        hist[micros] = hist.get(micros, 0) + 1
        if status != 200:
            errors["bad_status"] += 1
        elif not answer_ok(body, spec["arn_count"], spec["empty_failures"]):
            errors["bad_body"] += 1
    if writer is not None:
        writer.close()


async def _py_load(spec: dict[str, Any]) -> dict[str, Any]:
    pool = [raw.encode("latin-1") for raw in spec["pool"]]
    result: dict[str, Any] = {
        "requests": 0,
        "hist": {},
        "error_detail": {"connect": 0, "read": 0, "timeout": 0, "bad_status": 0, "bad_body": 0},
    }
    measure_from = time.perf_counter() + spec["warmup_s"]
    stop_at = measure_from + spec["duration_s"]
    await asyncio.gather(
        *(
            _py_worker(spec["port"], pool, n * 13, spec, measure_from, stop_at, result)
            for n in range(spec["concurrency"])
        )
    )
    result["duration_s"] = spec["duration_s"]
    result["errors"] = sum(result["error_detail"].values())
    return result


def main(spec_path: Path, out_path: Path) -> int:
    """Run the load described by the spec file, write the result file."""
    spec = json.loads(spec_path.read_text())
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415 - optional

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = asyncio.run(_py_load(spec))
    result["hist"] = sorted(result["hist"].items())
    out_path.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
