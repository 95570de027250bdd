"""Anomaly search as Walmsley et al. (2022) measured it: rings seen per suggestion, and the cost of
anomaly scores at 340k.

1. On the calibrated ``gw.datasets.synthetic(n=N_GALAXIES)`` (PCA-40), a simulated expert scores
   galaxies as W+22's did: rings (``meta.is_ring``) 5, other interesting classes (mergers,
   irregulars, artefacts) 3, the rest 0; 200 scores per session, over :data:`SEEDS` in the same
   run. *Rings seen per suggestion* = rings among the galaxies shown to the expert / galaxies
   shown (the start galaxies included), for

   - ``random``: 200 galaxies at random;
   - ``isolation forest order``: the 200 most anomalous (:func:`galwidget.anomaly.anomaly_scores`,
     the forest seeded by the session's seed), as Astronomaly ranks them without learning;
   - ``GP + EI, scores 5/0``: one known ring plus 9 random galaxies, then batches of 10
     suggestions of GP + EI (what ``bench_learn`` measures, with W+22's expert on 5/0 only);
   - the same retrained after every score, as the Explorer does (it retrains on each label and
     shows the new suggestions): batches of 1;
   - ``GP + EI, graded, from the anomaly prior``: Astronomaly's "protege" workflow, what
     ``Explorer(classes="interest", strategy="ei")`` does: the 10 most anomalous galaxies, then
     batches of 10 suggestions of GP + EI on the graded scores with the anomaly scores as prior;
     and the same retrained after every score;
   - the same with one known ring among the 10 start galaxies (a user who found one example),
     in batches of 10 and retrained after every score;
   - ``active search``: ``learn``'s ``"active_search"`` (Bayesian active search, Garnett et al.
     2012, greedy one-step) with the k-NN model and with the classifier, on 5/0 scores from the
     same start as GP + EI 5/0 (batches of 10 and retrained after every score), and with the
     classifier on graded scores from the anomaly prior, without and with one known ring
     (retrained after every score, as the Explorer does).

   W+22's figures beside them: 0.030 (their baseline) and 0.958 (GP + EI).
2. Anomaly scores of 340k galaxies (the PCA rows resampled with jitter, as ``bench_learn``):
   isolation forest and local outlier factor, wall-clock and CPU seconds.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

import galwidget as gw
from galwidget import learn
from galwidget.anomaly import AnomalyOptions, anomaly_scores

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "interest.json"
N_GALAXIES = 50_000
SEEDS = (0, 1, 2, 3, 4)
N_SCORES = 200
BATCH = 10
INTERESTING = ("merger", "irregular", "artefact")
W22 = {"baseline": 0.030, "gp_ei": 0.958}
FULL_SIZE = 340_000
# name → (expert's scale, start, retrain every ... scores); start "ring": 1 known ring + 9 random,
# "prior": the anomaly ranking (graded) — with "+ ring", one known ring among its start.
GP_SESSIONS = {
    "GP + EI, scores 5/0 (1 known ring + 9 random to start)": ("5/0", "ring", BATCH),
    "GP + EI, scores 5/0, 1 known ring + 9 random, retrained after every score": ("5/0", "ring", 1),
    "GP + EI, graded 5/3/0, from the anomaly prior": ("graded", "prior", BATCH),
    "GP + EI, graded 5/3/0, from the anomaly prior, retrained after every score": (
        "graded",
        "prior",
        1,
    ),
    "GP + EI, graded 5/3/0, anomaly prior + 1 known ring": ("graded", "prior + ring", BATCH),
    "GP + EI, graded 5/3/0, anomaly prior + 1 known ring, retrained after every score": (
        "graded",
        "prior + ring",
        1,
    ),
}
# Bayesian active search (learn's "active_search"): name → (search model, scale, start, batch).
SEARCH_SESSIONS = {
    "active search, k-NN model, scores 5/0, 1 known ring + 9 random": ("knn", "5/0", "ring", BATCH),
    "active search, k-NN model, scores 5/0, 1 known ring + 9 random, retrained after every score": (
        "knn",
        "5/0",
        "ring",
        1,
    ),
    "active search, classifier, scores 5/0, 1 known ring + 9 random": (
        "classifier",
        "5/0",
        "ring",
        BATCH,
    ),
    "active search, classifier, scores 5/0, 1 known ring + 9 random, retrained after every score": (
        "classifier",
        "5/0",
        "ring",
        1,
    ),
    "active search, classifier, graded 5/3/0, from the anomaly prior, retrained after every score": (
        "classifier",
        "graded",
        "prior",
        1,
    ),
    "active search, classifier, graded 5/3/0, anomaly prior + 1 known ring, retrained after every score": (
        "classifier",
        "graded",
        "prior + ring",
        1,
    ),
}
STRATEGIES = ("random", "isolation forest order", *GP_SESSIONS, *SEARCH_SESSIONS)


def expert_scores(reps: gw.Representations, *, graded: bool) -> np.ndarray:
    """W+22's simulated expert: rings 5, other interesting classes 3 (``graded``), the rest 0."""
    rings = reps.meta["is_ring"].to_numpy(dtype=bool)
    others = reps.meta["morphology"].isin(INTERESTING).to_numpy() & ~rings
    return np.where(rings, 5.0, np.where(others & graded, 3.0, 0.0))


def sessions(reps: gw.Representations, features: np.ndarray) -> dict[str, Any]:
    rings = reps.meta["is_ring"].to_numpy(dtype=bool)
    graded, five_zero = expert_scores(reps, graded=True), expert_scores(reps, graded=False)
    shown: dict[str, list[np.ndarray]] = {}
    seconds: dict[str, list[float]] = {}
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        prior = anomaly_scores(features[:, :10], AnomalyOptions(seed=seed)).to_numpy()
        first = int(rng.choice(np.flatnonzero(rings)))
        start = np.r_[first, rng.permutation(np.delete(np.arange(len(rings)), first))[:9]]
        anomalous = np.argsort(-prior, kind="stable")
        for name in STRATEGIES:
            started = time.perf_counter()
            if name == STRATEGIES[0]:
                positions = rng.permutation(len(rings))[:N_SCORES]
            elif name == STRATEGIES[1]:
                positions = anomalous[:N_SCORES]
            elif name in SEARCH_SESSIONS:
                model, scale, begin, batch = SEARCH_SESSIONS[name]
                first_shown = {"ring": start, "prior": None, "prior + ring": start[:1]}[begin]
                positions = learn.simulate_interest(
                    features,
                    five_zero if scale == "5/0" else graded,
                    "active_search",
                    prior=None if begin == "ring" else prior,
                    start=first_shown,
                    seed=seed,
                    batch=batch,
                    search_model=model,
                )
            else:
                scale, begin, batch = GP_SESSIONS[name]
                first_shown = {"ring": start, "prior": None, "prior + ring": start[:1]}[begin]
                positions = learn.simulate_interest(
                    features,
                    five_zero if scale == "5/0" else graded,
                    "ei",
                    prior=None if begin == "ring" else prior,
                    start=first_shown,
                    seed=seed,
                    batch=batch,
                )
            seconds.setdefault(name, []).append(time.perf_counter() - started)
            shown.setdefault(name, []).append(positions)
            print(seed, name, rings[positions].mean(), flush=True)
    results = {}
    for name, runs_of_name in shown.items():
        per_seed = [float(rings[p].mean()) for p in runs_of_name]
        interesting = [float((graded[p] == 3.0).mean()) for p in runs_of_name]
        results[name] = {
            "rings_per_suggestion": statistics.mean(per_seed),
            "rings_per_suggestion_std": statistics.pstdev(per_seed),
            "per_seed": per_seed,
            "other_interesting_per_suggestion": statistics.mean(interesting),
            "seconds_per_session": statistics.mean(seconds[name]),
        }
    return results


def anomaly_timing(features: np.ndarray) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    rows = features[rng.integers(0, len(features), FULL_SIZE)]
    rows = rows + rng.normal(scale=0.01, size=rows.shape).astype(np.float32)
    timings = {}
    for method in ("isolation_forest", "local_outlier_factor"):
        wall, cpu = time.perf_counter(), time.process_time()
        anomaly_scores(rows, AnomalyOptions(method=method), progress=False)
        timings[method] = {
            "n_galaxies": FULL_SIZE,
            "wall_seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu,
        }
        print(method, timings[method], flush=True)
    return timings


def main() -> dict[str, Any]:
    """Run all measurements, write ``bench/results/interest.json`` and return the results."""
    reps = gw.datasets.synthetic(n=N_GALAXIES)
    features = learn.learning_features(reps)
    results = {
        "data": {
            "n_galaxies": N_GALAXIES,
            "n_rings": int(reps.meta["is_ring"].sum()),
            "n_other_interesting": int((expert_scores(reps, graded=True) == 3.0).sum()),
            "features": f"PCA-{features.shape[1]} of synthetic {reps.n_features}-d",
            "n_scores": N_SCORES,
            "batch": BATCH,
            "seeds": list(SEEDS),
        },
        "walmsley_2022": W22,
        "sessions": sessions(reps, features),
        "anomaly_340k": anomaly_timing(features),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
