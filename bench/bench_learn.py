"""Active learning: how fast each strategy finds rare rings, and how fast retraining is at 340k.

1. The difficulty of the data (:func:`galwidget.datasets.calibration.difficulty`) beside the real
   GZ DECaLS figures of Walmsley et al. (2022).
2. Simulated labelling sessions on the calibrated ``gw.datasets.synthetic(n=N_GALAXIES)``
   (PCA-40 features) with rings (``meta.is_ring``, ~1.6%) as the rare class: 200 labels per
   session (one known ring plus 9 random galaxies to start, then batches of 10 suggestions), for
   every strategy and for random labelling (the baseline, same classifier), over :data:`SEEDS`
   in the same run; also GP + EI as it was before the candidate pool (every galaxy's standard
   deviation, :class:`ExactGPLearner`). precision@N = fraction of rings among the N galaxies the
   final model ranks highest; rings seen = rings among the 200 galaxies labelled.
3. Retrain + rescore of 340k galaxies × 40 features (the PCA rows resampled with jitter), for the
   logistic regression, GP + EI with the candidate pool and GP + EI before it, synchronously and
   on the background worker (with the longest stall of the main thread meanwhile, beside the stall
   with a worker that only sleeps: the floor set by other processes), wall-clock and CPU seconds
   (``process_time``: the work done, whatever the machine's load), plus the cost of one fsync'd
   label.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from threadpoolctl import threadpool_limits

import galwidget as gw
from galwidget import learn
from galwidget.datasets.calibration import W22_FIGURES, difficulty

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "learn.json"
N_GALAXIES = 50_000
SEEDS = (0, 1, 2, 3, 4)
N_LABELS = 200
BATCH = 10
FULL_SIZE = 340_000
REPEATS = 3
METRICS = ("precision@50", "precision@200", "n_found")


class ExactGPLearner(learn.Learner):
    """GP + EI as galwidget did it before the candidate pool (commit f1265c8): sklearn's
    ``predict`` with the standard deviation of every galaxy, O(n · labels²), in chunks of 32768
    rows. The kernel and its warm start are today's."""

    def _train_gp(self, positions: np.ndarray, values: np.ndarray, started: float) -> learn.Fit:
        interest = values.astype(np.float64)
        train = self.features[positions].astype(np.float64)
        previous = self._fit
        if previous is not None and previous.kind == "gp":
            kernel = previous.model.kernel_
        else:
            kernel = learn.initial_kernel(train)
        model = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
        with warnings.catch_warnings(), threadpool_limits(1, "blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(train, interest)
            mean, std = np.empty(len(self.features)), np.empty(len(self.features))
            for start in range(0, len(self.features), 32768):
                chunk = self.features[start : start + 32768].astype(np.float64)
                mean[start : start + 32768], std[start : start + 32768] = model.predict(
                    chunk, return_std=True
                )
        seconds = time.perf_counter() - started
        return learn.Fit("gp", model, [], mean, std, positions, float(interest.max()), seconds)


def _session(features: np.ndarray, truth: np.ndarray, strategy: str, seed: int) -> dict[str, Any]:
    if strategy == "ei (before: exact std)":  # a pool of every galaxy: the same maths as before
        return learn.simulate(features, truth, "ei", N_LABELS, BATCH, seed, gp_pool=len(truth))
    return learn.simulate(features, truth, strategy, N_LABELS, BATCH, seed=seed)


def simulations(features: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """precision@50/200 and rings seen per strategy: mean, std, min and max over :data:`SEEDS`."""
    results: dict[str, Any] = {}
    for strategy in ("random", "uncertainty", "top", "ei", "ei (before: exact std)"):
        runs, started = [], time.perf_counter()
        for seed in SEEDS:
            run = _session(features, truth, strategy, seed)
            runs.append({key: run[key] for key in METRICS})
        summary: dict[str, Any] = {}
        for key in METRICS:
            values = [run[key] for run in runs]
            summary[key] = statistics.mean(values)
            summary[f"{key} std"] = statistics.stdev(values)
            summary[f"{key} range"] = [min(values), max(values)]
        results[strategy] = {
            **summary,
            "seconds_per_session": (time.perf_counter() - started) / len(SEEDS),
            "runs": runs,
        }
        print(strategy, {k: v for k, v in results[strategy].items() if k != "runs"}, flush=True)
    for result in results.values():
        for key in METRICS:
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
    """Retrain + rescore times on 340k galaxies for every model kind, in the same run."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(features), FULL_SIZE)
    jitter = rng.normal(scale=0.01 * features.std(), size=(FULL_SIZE, features.shape[1]))
    big = (features[rows] + jitter).astype(np.float32)
    big_truth = truth[rows]
    known = np.concatenate(
        [rng.choice(np.flatnonzero(big_truth), 20), rng.choice(np.flatnonzero(~big_truth), 180)]
    )
    interest = np.where(big_truth[known], 5.0, 0.0)
    timings: dict[str, Any] = {
        "n_galaxies": FULL_SIZE,
        "n_features": big.shape[1],
        "load_average_before": os.getloadavg()[0],
        "idle_worker_max_stall_seconds": _idle_stall(),
    }
    for kind, make, labels in (
        ("logistic regression", lambda: learn.Learner(big, strategy="top", target=True), None),
        ("gaussian process + EI (candidate pool)", lambda: learn.Learner(big, strategy="ei"), 1),
        (
            "gaussian process + EI (before: exact std)",
            lambda: ExactGPLearner(big, strategy="ei"),
            1,
        ),
    ):
        values = big_truth[known] if labels is None else interest
        learner = make()
        seconds, cpu = [], []
        for _ in range(REPEATS):
            started, started_cpu = time.perf_counter(), time.process_time()
            fit = learner.retrain((known, values))
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        report_seconds = _report_seconds(learner, fit, values)
        started = time.perf_counter()
        suggested = learner.suggest(BATCH)
        suggest = time.perf_counter() - started
        started = time.perf_counter()
        future = learner.retrain_async((known, values))
        stall = max_stall(future)
        future.result()
        asynchronous = time.perf_counter() - started
        learner.close()
        timings[kind] = {
            "retrain_and_rescore_seconds": statistics.median(seconds),
            "retrain_and_rescore_cpu_seconds": statistics.median(cpu),
            "of_which_model_report_seconds": report_seconds,
            "suggest_seconds": suggest,
            "async_retrain_seconds": asynchronous,
            "max_main_thread_stall_seconds": stall,
            "suggested": [int(i) for i in suggested],
        }
        print(kind, timings[kind], flush=True)
    pool = set(timings["gaussian process + EI (candidate pool)"].pop("suggested"))
    exact = set(timings["gaussian process + EI (before: exact std)"].pop("suggested"))
    timings["logistic regression"].pop("suggested")
    timings["ei suggestions shared by pool and exact (of 10)"] = len(pool & exact)
    timings["load_average_after"] = os.getloadavg()[0]
    return timings


def _idle_stall() -> float:
    """The longest main-thread stall while a worker thread only sleeps for 2 s: the floor that
    other processes on the machine set, whatever the worker does."""
    with ThreadPoolExecutor(1) as pool:
        return max_stall(pool.submit(time.sleep, 2.0))


def _report_seconds(learner: learn.Learner, fit: learn.Fit, values: np.ndarray) -> float:
    started = time.perf_counter()
    learner._report(fit, values)
    return time.perf_counter() - started


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
    figures = difficulty(reps, seed=0)
    print("difficulty", figures, flush=True)
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
        "difficulty": {**figures, "walmsley_2022": W22_FIGURES},
        "strategies": simulations(features, truth),
        "retrain_340k": retrain_timing(features, truth),
        "labels": label_latency(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
