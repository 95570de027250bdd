"""Wire protocol v2 against v1, in the same run: selection bytes and codec times, and the bytes a
label key press sends.

1. Selections of ``n`` ∈ :data:`SIZES` points (a lasso-like disk over ~80% of a Gaussian cloud,
   a random 60%, a sparse 10k): v2 ``encode_selection`` / ``decode_selection`` (bytes, ms; best
   of :data:`REPEATS`) against v1 — uint32 positions, ``tobytes`` / ``frombuffer`` (the baseline).
2. A browser lasso applied in Python at 3M points (``_selection`` update through the comm
   handler to ``w.selection``, DataFrame-free): v2 median seconds.
3. A label key press at 3M points colored by label: bytes the kernel sends (captured at the
   comm) against v1's resend of the ``n``-byte ``_labels`` buffer and the ``n``-byte color buffer.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from comm.base_comm import BaseComm
from ipywidgets.widgets.widget import _remove_buffers

import galwidget as gw
from galwidget.protocol import decode_selection, encode_selection

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "protocol.json"
SIZES = (1_000_000, 3_000_000, 10_000_000)
REPEATS = 3
SERVER_LIMIT = 10 * 1024 * 1024  # the Jupyter server drops websocket messages over this


def best(run: Any) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def selections(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(n, 2))
    return {
        "lasso disk (~80%)": np.flatnonzero(np.hypot(xy[:, 0], xy[:, 1]) < 1.8),
        "random 60%": np.flatnonzero(rng.random(n) < 0.6),
        "sparse 10k": np.sort(rng.choice(n, 10_000, replace=False)),
    }


def selection_codecs() -> list[dict[str, Any]]:
    rows = []
    for n in SIZES:
        for name, positions in selections(n).items():
            v2 = encode_selection(positions, n)
            v1 = positions.astype("<u4").tobytes()
            rows.append(
                {
                    "n": n,
                    "selection": name,
                    "selected": len(positions),
                    "v2_bytes": len(v2),
                    "v2_kind": v2[0],
                    "v1_bytes": len(v1),
                    "v1_over_server_limit": len(v1) > SERVER_LIMIT,
                    "bytes_ratio": len(v2) / len(v1),
                    "v2_encode_ms": 1e3 * best(lambda p=positions, n=n: encode_selection(p, n)),
                    "v2_decode_ms": 1e3 * best(lambda d=v2, n=n: decode_selection(d, n)),
                    "v1_encode_ms": 1e3 * best(lambda p=positions: p.astype("<u4").tobytes()),
                    "v1_decode_ms": 1e3
                    * best(lambda d=v1: np.frombuffer(d, "<u4").astype(np.int64)),
                }
            )
    return rows


class Recorder(BaseComm):
    def __init__(self) -> None:
        self.sizes: list[int] = []
        super().__init__(target_name="jupyter.widget", primary=True)
        self.sizes.clear()

    def publish_msg(self, msg_type: str, data=None, metadata=None, buffers=None, **keys) -> None:
        size = sum(len(memoryview(b).cast("B")) for b in buffers or [])
        self.sizes.append(len(json.dumps(data, default=str)) + size)


def widget_at_3m(folder: Path) -> dict[str, Any]:
    n = 3_000_000
    xy = np.random.default_rng(1).normal(size=(n, 2)).astype(np.float32)
    reps = gw.Representations.from_array(xy)
    w = gw.Explorer(
        reps,
        layout=xy,
        classes=["ring", "not ring"],
        labels={"path": folder / "labels.jsonl"},
        color="label",
        remember_selection=False,
    )
    inside = np.flatnonzero(np.hypot(xy[:, 0], xy[:, 1]) < 1.8)
    times = []
    for shift in range(5):
        plain, paths, buffers = _remove_buffers({"_selection": encode_selection(inside[shift:], n)})
        message = {"method": "update", "state": plain, "buffer_paths": paths}
        start = time.perf_counter()
        w._handle_msg({"content": {"data": message}, "buffers": [memoryview(b) for b in buffers]})
        times.append(time.perf_counter() - start)
    assert len(w.selection) == len(inside) - 4
    recorder = Recorder()
    w.comm = recorder
    press = {"type": "request", "kind": "label", "request": 1, "label": "ring"}
    content, _ = w._reply(press, [np.array([1_234_567], "<u4").tobytes()])
    assert content["ok"]
    w.close()
    return {
        "n": n,
        "lasso_selected": len(inside),
        "lasso_to_python_s_median": statistics.median(times),
        "key_press_v2_bytes": sum(recorder.sizes),
        "key_press_v2_messages": len(recorder.sizes),
        "key_press_v1_bytes": 2 * n,  # _labels and _color resent whole
    }


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        results = {"selections": selection_codecs(), "widget_3m": widget_at_3m(Path(folder))}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
