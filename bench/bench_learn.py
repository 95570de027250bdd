"""Active learning: how fast each strategy finds rare rings, and how fast retraining is at 340k.

1. Simulated labelling sessions on ``gw.datasets.synthetic(n=N_GALAXIES)`` (PCA-40 features, and
   a harder variant with only the first 4 components) with rings (``meta.is_ring``, ~1.5%) as the
   rare class: 200 labels per session (one known ring plus 9 random galaxies to start, then
   batches of 10 suggestions), for every strategy and for random labelling (the baseline, same
   classifier), over several seeds in the same run. precision@N = fraction of rings among the N
   galaxies the final model ranks highest (R = the number of rings); n_found = rings among the
   200 galaxies labelled.
2. Retrain + rescore of 340k galaxies × 40 features (the PCA rows resampled with jitter), for
   the logistic regression and the Gaussian process, synchronously and on the background worker
   (with the longest stall of the main thread meanwhile), plus the cost of one fsync'd label.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import galwidget as gw
from galwidget import learn

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "learn.json"
N_GALAXIES = 50_000
SEEDS = (0, 1, 2)
N_LABELS = 200
BATCH = 10
FULL_SIZE = 340_000
REPEATS = 3


def simulations(features: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """precision@50/200/R (R = number of rings) and rings found per strategy, over :data:`SEEDS`."""
    n_rings = int(truth.sum())
    metrics = ("precision@50", "precision@200", "precision@R", "n_found")
    results: dict[str, Any] = {}
    for strategy in ("random", "uncertainty", "top", "ei"):
        runs, started = [], time.perf_counter()
        for seed in SEEDS:
            run = learn.simulate(
                features, truth, strategy, N_LABELS, BATCH, seed=seed, curve_length=n_rings
            )
            run["precision@R"] = float(run["precision_curve"][-1])
            runs.append({key: run[key] for key in metrics})
        results[strategy] = {
            **{key: statistics.mean(run[key] for run in runs) for key in metrics},
            "seconds_per_session": (time.perf_counter() - started) / len(SEEDS),
            "runs": runs,
        }
        print(strategy, {k: v for k, v in results[strategy].items() if k != "runs"}, flush=True)
    for result in results.values():
        for key in metrics:
            result[f"{key} vs random"] = result[key] / max(results["random"][key], 1e-9)
    return results


def max_stall(future: Any) -> float:
    """The longest the main thread waited for a 1 ms sleep while ``future`` ran (seconds)."""
    worst = 0.0
    while not future.done():
        started = time.perf_counter()
        time.sleep(0.001)
        worst = max(worst, time.perf_counter() - started - 0.001)
    return worst


def retrain_timing(features: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Retrain + rescore times on 340k galaxies for both model kinds."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(features), FULL_SIZE)
    jitter = rng.normal(scale=0.01 * features.std(), size=(FULL_SIZE, features.shape[1]))
    big = (features[rows] + jitter).astype(np.float32)
    big_truth = truth[rows]
    known = np.concatenate(
        [rng.choice(np.flatnonzero(big_truth), 20), rng.choice(np.flatnonzero(~big_truth), 180)]
    )
    timings: dict[str, Any] = {"n_galaxies": FULL_SIZE, "n_features": big.shape[1]}
    for strategy, labels in (
        ("top", big_truth[known]),
        ("ei", np.where(big_truth[known], 5.0, 0.0)),
    ):
        learner = learn.Learner(big, strategy=strategy, target=True if strategy == "top" else None)
        seconds = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            learner.retrain((known, labels))
            seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        learner.suggest(BATCH)
        suggest = time.perf_counter() - started
        started = time.perf_counter()
        future = learner.retrain_async((known, labels))
        stall = max_stall(future)
        future.result()
        asynchronous = time.perf_counter() - started
        learner.close()
        kind = "logistic regression" if strategy == "top" else "gaussian process + EI"
        timings[kind] = {
            "retrain_and_rescore_seconds": statistics.median(seconds),
            "suggest_seconds": suggest,
            "async_retrain_seconds": asynchronous,
            "max_main_thread_stall_seconds": stall,
        }
        print(kind, timings[kind], flush=True)
    return timings


def label_latency() -> dict[str, float]:
    """Median time of one fsync'd ``store.set`` (a key press) and one bulk set of 1000 ids."""
    with tempfile.TemporaryDirectory(dir=HERE / "data") as folder:
        store = gw.LabelStore(Path(folder) / "labels.jsonl", fingerprint="bench")
        single = []
        for i in range(200):
            started = time.perf_counter()
            store.set(f"g{i}", "ring", source="key")
            single.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.set([f"b{i}" for i in range(1000)], "ring", source="bulk")
        bulk = time.perf_counter() - started
    return {"set_one_seconds_median": statistics.median(single), "set_1000_seconds": bulk}


def main() -> dict[str, Any]:
    """Run all measurements, write ``bench/results/learn.json`` and return the results."""
    (HERE / "data").mkdir(exist_ok=True)
    reps = gw.datasets.synthetic(n=N_GALAXIES)
    truth = reps.meta["is_ring"].to_numpy(dtype=bool)
    features = learn.learning_features(reps)
    results = {
        "data": {
            "n_galaxies": N_GALAXIES,
            "n_rings": int(truth.sum()),
            "ring_fraction": float(truth.mean()),
            "features": f"PCA-{features.shape[1]} of synthetic {reps.n_features}-d",
            "n_labels": N_LABELS,
            "batch": BATCH,
            "seeds": list(SEEDS),
        },
        "strategies": simulations(features, truth),
        # The same sessions on the first 4 PCA components only, where rings overlap other classes.
        "strategies_pca4": simulations(np.ascontiguousarray(features[:, :4]), truth),
        "retrain_340k": retrain_timing(features, truth),
        "labels": label_latency(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
