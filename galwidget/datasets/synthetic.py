"""A synthetic GZ DECaLS-like galaxy population: the built-in, offline data set.

Every galaxy gets latent morphology parameters (bulge fraction, arm count and pitch, bar, ring and
tidal strength, …) drawn per morphology class in realistic proportions, with overlapping ranges
between neighboring classes (a faint ring in a "ring" galaxy, a ring-like feature in a "disk"),
and observing conditions: redshift and size (hence the apparent half-light radius), seeing, depth
and field crowding. Fine structure (arms, bars, rings, clumps) is only as visible as the seeing
over the apparent size allows (``blur``). The same parameters drive the volunteer-like vote
fractions in ``meta``, the CNN-like features (a fixed random nonlinear map of the weighted visible
morphology and observing conditions, plus noise) and the thumbnails drawn by
:class:`~galwidget.datasets.render.SyntheticThumbnails`.

The difficulty is calibrated (:mod:`galwidget.datasets.calibration`) to the real GZ DECaLS Zoobot
features (Walmsley et al. 2022): ~83% of the variance in the first 10 principal components (real:
84.4%), a ring linear probe at ~0.87 accuracy (real: ~0.86), ~84% of 10 nearest neighbors of the
same class.

Galaxies are generated in chunks of :data:`CHUNK_ROWS` rows, each seeded by ``(seed, chunk)``, so
the first ``m`` galaxies of ``synthetic(n)`` are exactly ``synthetic(m)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from galwidget.data import Representations
from galwidget.datasets.render import SyntheticThumbnails
from galwidget.errors import DataError
from galwidget.sky import format_iauname

__all__ = ["MORPHOLOGIES", "synthetic", "write_zenodo_like"]

CHUNK_ROWS = 16_384
# Above this many feature values, generation shows a progress bar.
PROGRESS_THRESHOLD = 50_000_000

# Share of each ground-truth class, roughly as in GZ DECaLS; rings are the rare class.
MORPHOLOGY_FRACTIONS: dict[str, float] = {
    "smooth round": 0.28,
    "smooth cigar": 0.08,
    "disk": 0.12,
    "spiral": 0.25,
    "barred spiral": 0.10,
    "ring": 0.015,
    "edge-on": 0.09,
    "merger": 0.03,
    "irregular": 0.015,
    "artefact": 0.02,
}
MORPHOLOGIES: tuple[str, ...] = tuple(MORPHOLOGY_FRACTIONS)
"""The morphology classes of the synthetic galaxies (the ``morphology`` column), most common first."""

# Uniform range of each latent parameter per class (classes not listed use "default"). Radii are
# in units of the half-light radius; "extent" is the half-light radius over the thumbnail width.
PARAMETER_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "featured": {
        "default": (0.8, 1.0),
        "smooth round": (0.02, 0.3),
        "smooth cigar": (0.05, 0.3),
        "disk": (0.45, 0.8),
        "edge-on": (0.7, 0.95),
        "ring": (0.45, 0.85),
        "merger": (0.5, 0.9),
        "artefact": (0.1, 0.5),
    },
    "artefact_score": {"default": (0.0, 0.03), "artefact": (0.7, 1.0)},
    "extent": {
        "default": (0.07, 0.12),
        "smooth round": (0.05, 0.1),
        "smooth cigar": (0.06, 0.11),
        "edge-on": (0.1, 0.16),
        "merger": (0.05, 0.08),
        "artefact": (0.04, 0.07),
    },
    "axis_ratio": {
        "default": (0.5, 1.0),
        "smooth round": (0.55, 1.0),
        "smooth cigar": (0.28, 0.65),
        "disk": (0.35, 1.0),
        "ring": (0.4, 1.0),
        "edge-on": (0.06, 0.18),
        "irregular": (0.4, 0.9),
        "artefact": (0.7, 1.0),
    },
    "bulge_fraction": {
        "default": (0.05, 0.4),
        "smooth round": (0.85, 1.0),
        "smooth cigar": (0.85, 1.0),
        "disk": (0.3, 0.6),
        "ring": (0.25, 0.6),
        "edge-on": (0.0, 0.4),
        "merger": (0.2, 0.7),
        "irregular": (0.0, 0.08),
        "artefact": (0.5, 1.0),
    },
    "bulge_radius": {
        "default": (0.15, 0.3),
        "smooth round": (0.9, 1.1),
        "smooth cigar": (0.9, 1.1),
    },
    "sersic_n": {
        "default": (1.0, 2.5),
        "smooth round": (2.5, 5.0),
        "smooth cigar": (2.5, 5.0),
        "disk": (1.5, 3.5),
        "merger": (1.0, 4.0),
        "irregular": (0.7, 1.2),
    },
    "arm_strength": {
        "default": (0.0, 0.05),
        "disk": (0.0, 0.45),
        "spiral": (0.3, 1.0),
        "barred spiral": (0.4, 1.0),
        "ring": (0.0, 0.5),
        "edge-on": (0.0, 0.3),
        "merger": (0.0, 0.3),
    },
    "bar_length": {"default": (0.9, 1.5)},
    "ring_strength": {
        "default": (0.0, 0.05),
        "disk": (0.0, 0.45),
        "spiral": (0.0, 0.25),
        "barred spiral": (0.0, 0.35),
        "ring": (0.15, 1.0),
    },
    "ring_radius": {"default": (1.2, 2.0)},
    "tidal": {"default": (0.0, 0.05), "merger": (0.6, 1.0), "irregular": (0.2, 0.5)},
    "companion_flux": {"default": (0.0, 0.0), "merger": (0.25, 1.0)},
    "companion_distance": {"default": (1.8, 3.2)},
    "clumpiness": {
        "default": (0.0, 0.15),
        "smooth round": (0.0, 0.05),
        "smooth cigar": (0.0, 0.05),
        "spiral": (0.2, 0.7),
        "barred spiral": (0.2, 0.6),
        "ring": (0.05, 0.3),
        "edge-on": (0.1, 0.4),
        "merger": (0.3, 0.8),
        "irregular": (0.7, 1.0),
    },
    "redness": {
        "default": (0.2, 0.6),
        "smooth round": (0.75, 1.0),
        "smooth cigar": (0.75, 1.0),
        "disk": (0.55, 0.85),
        "barred spiral": (0.3, 0.65),
        "ring": (0.5, 0.85),
        "edge-on": (0.35, 0.75),
        "merger": (0.3, 0.7),
        "irregular": (0.0, 0.25),
        "artefact": (0.0, 1.0),
    },
    "dust": {"default": (0.0, 0.0), "edge-on": (0.2, 0.8)},
    "brightness": {"default": (0.7, 1.4)},
}
# Pitch angle ranges (degrees) of tight, medium and loose arms, and their shares.
WINDING_PITCH = ((8.0, 14.0), (15.0, 23.0), (25.0, 36.0))
WINDING_SHARES = (0.3, 0.45, 0.25)
ARM_COUNT_SHARES = {1: 0.06, 2: 0.56, 3: 0.18, 4: 0.1, 5: 0.1}  # 5 means "more than 4"
# Share of [no, weak, strong] bars per class (others: no bar).
BAR_SHARES = {
    "barred spiral": (0.0, 0.5, 0.5),
    "spiral": (0.7, 0.3, 0.0),
    "ring": (0.6, 0.3, 0.1),
    "disk": (0.7, 0.25, 0.05),
}
BAR_STRENGTH = ((0.0, 0.2), (0.2, 0.55), (0.55, 1.0))

# Sky footprint: DECaLS-like declinations, away from the Galactic plane.
DEC_RANGE = (-20.0, 35.0)
MIN_GALACTIC_LATITUDE = 18.0
NORTH_GALACTIC_POLE = (192.85948, 27.12825)  # J2000 ra, dec in degrees

# The fixed "network" that turns weighted morphology into features; one for every data set.
NETWORK_SEED = 20_240_613
HIDDEN_UNITS = 96
NETWORK_BLOCK = 2048
FEATURE_NOISE = 0.08
SEEING_MEDIAN = 1.25  # arcsec FWHM, typical of DECaLS
BLUR_SCALE = 0.5  # seeing over half-light radius at which fine structure is half as visible
SOFTPLUS_SHARPNESS = 4.0
VOTE_CONCENTRATION = 30.0


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def synthetic(n: int = 20_000, seed: int = 0, dim: int = 1280) -> Representations:
    """A synthetic GZ DECaLS-like population of ``n`` galaxies with ``dim`` CNN-like features.

    ``meta`` holds ``iauname``, ``ra``, ``dec``, ``morphology`` (ground truth), ``is_ring``,
    ``redshift``, ``mag_r``, ``petro_th50`` and GZ DECaLS-style vote fractions such as
    ``has-spiral-arms_yes_fraction``. ``images`` renders each galaxy's thumbnail. The same
    ``(n, seed, dim)`` always gives identical data. The features are calibrated to be as hard as
    the real Zoobot ones (see :mod:`galwidget.datasets.calibration`).

    Args:
        n: number of galaxies.
        seed: random seed.
        dim: number of features (1280 as Zoobot's).

    Returns:
        The galaxies, ids ``iauname``, with thumbnails.

    Raises:
        DataError: ``n`` or ``dim`` is not a positive integer.

    Examples:
        >>> import galwidget as gw
        >>> reps = gw.datasets.synthetic(n=1000, seed=0)
        >>> reps.features.shape, reps.ids[0]
        ((1000, 1280), 'J010629.36+145221.5')
        >>> sorted(reps.meta["morphology"].unique()) == sorted(gw.datasets.MORPHOLOGIES)
        True
    """
    _check_size(n, dim)
    features = np.empty((n, dim), dtype=np.float32)
    params, metas = [], []
    show = n * dim > PROGRESS_THRESHOLD
    with tqdm(total=n, desc="synthetic galaxies", unit="rows", disable=not show) as bar:
        for start, chunk_params, chunk_meta, chunk_features in _chunks(n, seed, dim):
            features[start : start + len(chunk_features)] = chunk_features
            params.append(chunk_params)
            metas.append(chunk_meta)
            bar.update(len(chunk_features))
    meta = pd.concat(metas, ignore_index=True)
    ids = pd.Index(meta["iauname"].to_numpy(dtype=object), name="iauname", dtype=object)
    latents = pd.concat(params, ignore_index=True).set_axis(ids, axis=0)
    images = SyntheticThumbnails(latents, seed=seed)
    return Representations(ids=ids, features=features, meta=meta, images=images)


def write_zenodo_like(
    path: str | PathLike[str], n: int, dim: int = 1280, seed: int = 0, progress: bool | None = None
) -> Path:
    """Write ``n`` synthetic galaxies as a parquet file in the Zenodo 5536995 schema.

    Columns: ``iauname``, ``png_loc`` (``J000/J000411.19+020924.0.png``), then float64
    ``feat_0_pred … feat_{dim-1}_pred``. The features are exactly ``synthetic(n, seed,
    dim).features`` (float32 values stored as float64). Rows are written in row groups of :data:`CHUNK_ROWS`, so memory stays
    small even for the full 340k × 1280 size.
    """
    _check_size(n, dim)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f"feat_{j}_pred" for j in range(dim)]
    schema = pa.schema(
        [("iauname", pa.string()), ("png_loc", pa.string())] + [(c, pa.float64()) for c in names]
    )
    show = progress if progress is not None else n * dim > PROGRESS_THRESHOLD
    with (
        pq.ParquetWriter(path, schema, compression="none", use_dictionary=False) as writer,
        tqdm(total=n, desc=f"writing {path.name}", unit="rows", disable=not show) as bar,
    ):
        for _, _, meta, features in _chunks(n, seed, dim):
            iauname = meta["iauname"].to_numpy(dtype=object)
            png_loc = [f"{name[:4]}/{name}.png" for name in iauname]
            columns = [pa.array(iauname, pa.string()), pa.array(png_loc, pa.string())]
            by_column = np.ascontiguousarray(features.T, dtype=np.float64)
            columns += [pa.array(values, type=pa.float64()) for values in by_column]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            bar.update(len(features))
    return path


def _check_size(n: int, dim: int) -> None:
    for name, value, what in (("n", n, "galaxies"), ("dim", dim, "features")):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise DataError(f"{name} must be a positive integer number of {what}, got {value!r}")


# ----------------------------------------------------------------------------------------------
# Generation, chunk by chunk
# ----------------------------------------------------------------------------------------------


def _chunks(
    n: int, seed: int, dim: int
) -> Iterator[tuple[int, pd.DataFrame, pd.DataFrame, np.ndarray]]:
    """Yield ``(start, latent parameters, meta, float32 features)`` for successive row chunks."""
    network = _network(dim)
    taken: set[str] = set()
    for chunk, start in enumerate(range(0, n, CHUNK_ROWS)):
        rows = min(CHUNK_ROWS, n - start)
        # Separate streams per purpose keep every row independent of n (prefix-stable chunks).
        rng = np.random.default_rng([seed, chunk])
        params = _draw_parameters(rng)
        ra, dec = _draw_positions(rng, CHUNK_ROWS)
        params, ra, dec = params.iloc[:rows].reset_index(drop=True), ra[:rows], dec[:rows]
        names = _unique_names(ra, dec, taken, np.random.default_rng([seed, chunk, 1]))
        meta = _meta(params, names, ra, dec, np.random.default_rng([seed, chunk, 2]))
        features = network(_morphology_vector(params), np.random.default_rng([seed, chunk, 3]))
        yield start, params, meta, features


def _by_class(
    code: np.ndarray, ranges: dict[str, tuple[float, float]], rng: np.random.Generator
) -> np.ndarray:
    """One uniform draw per galaxy from its class's range."""
    low, high = np.empty((2, len(MORPHOLOGIES)))
    for i, name in enumerate(MORPHOLOGIES):
        low[i], high[i] = ranges.get(name, ranges["default"])
    return low[code] + rng.random(len(code)) * (high[code] - low[code])


def _draw_parameters(rng: np.random.Generator) -> pd.DataFrame:
    """Latent morphology parameters of one chunk of :data:`CHUNK_ROWS` galaxies."""
    rows = CHUNK_ROWS
    code = rng.choice(len(MORPHOLOGIES), size=rows, p=list(MORPHOLOGY_FRACTIONS.values()))
    params: dict[str, np.ndarray] = {"morphology": code.astype(np.int8)}
    for name, ranges in PARAMETER_RANGES.items():
        params[name] = _by_class(code, ranges, rng)
    winding = rng.choice(3, size=rows, p=WINDING_SHARES)
    pitch_low, pitch_high = np.array(WINDING_PITCH).T
    params["pitch"] = pitch_low[winding] + rng.random(rows) * (pitch_high - pitch_low)[winding]
    counts = np.array(list(ARM_COUNT_SHARES))
    params["arm_count"] = counts[
        rng.choice(len(counts), size=rows, p=list(ARM_COUNT_SHARES.values()))
    ]
    bar_class = np.zeros(rows, dtype=np.int64)
    for name, shares in BAR_SHARES.items():
        chosen = code == MORPHOLOGIES.index(name)
        bar_class[chosen] = rng.choice(3, size=int(chosen.sum()), p=shares)
    bar_low, bar_high = np.array(BAR_STRENGTH).T
    params["bar_strength"] = bar_low[bar_class] + rng.random(rows) * (bar_high - bar_low)[bar_class]
    params["position_angle"] = rng.uniform(0.0, np.pi, rows)
    params["bar_angle"] = rng.uniform(0.0, np.pi, rows)
    params["companion_angle"] = rng.uniform(0.0, 2 * np.pi, rows)
    params["spin"] = rng.choice([-1.0, 1.0], size=rows)
    params["artefact_kind"] = rng.integers(0, 3, size=rows)
    params["redshift"] = 0.01 + 0.14 * rng.beta(2.0, 4.0, rows)
    params["absolute_mag"] = rng.normal(-21.0, 1.0, rows) - 0.8 * (params["redness"] - 0.5)
    params["r50_kpc"] = np.exp(rng.normal(np.log(4.0), 0.35, rows)) * (
        1.0 - 0.4 * (params["bulge_fraction"] > 0.8)
    )
    # Observing conditions: seeing FWHM (arcsec), field crowding (star counts) and depth.
    params["seeing"] = np.clip(rng.lognormal(np.log(SEEING_MEDIAN), 0.2, rows), 0.7, 2.5)
    params["crowding"] = rng.gamma(2.0, 0.5, rows)
    params["depth"] = rng.lognormal(0.0, 0.3, rows)
    kpc_per_arcsec = 4283.0 * params["redshift"] / (1 + params["redshift"]) * 1000 / 206_265.0
    params["petro_th50"] = params["r50_kpc"] / kpc_per_arcsec
    params["blur"] = params["seeing"] / params["petro_th50"]
    frame = pd.DataFrame(params)
    floats = frame.columns[frame.dtypes == np.float64]
    return frame.astype(dict.fromkeys(floats, np.float32))


def _draw_positions(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform sky positions in the DECaLS-like footprint, away from the Galactic plane."""
    ra_parts, dec_parts, found = [], [], 0
    sin_low, sin_high = np.sin(np.radians(DEC_RANGE))
    while found < rows:
        ra = rng.uniform(0.0, 360.0, 2 * rows)
        dec = np.degrees(np.arcsin(rng.uniform(sin_low, sin_high, 2 * rows)))
        keep = np.abs(_galactic_latitude(ra, dec)) >= MIN_GALACTIC_LATITUDE
        ra_parts.append(ra[keep])
        dec_parts.append(dec[keep])
        found += int(keep.sum())
    return np.concatenate(ra_parts)[:rows], np.concatenate(dec_parts)[:rows]


def _galactic_latitude(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    pole_ra, pole_dec = np.radians(NORTH_GALACTIC_POLE)
    ra, dec = np.radians(ra), np.radians(dec)
    sin_b = np.sin(dec) * np.sin(pole_dec) + np.cos(dec) * np.cos(pole_dec) * np.cos(ra - pole_ra)
    return np.degrees(np.arcsin(np.clip(sin_b, -1.0, 1.0)))


def _unique_names(
    ra: np.ndarray, dec: np.ndarray, taken: set[str], rng: np.random.Generator
) -> np.ndarray:
    """IAU names for ``ra``/``dec``, re-drawing in place any position whose name is ``taken``.

    Names clash when two galaxies fall in the same 0.01 s × 0.1\" cell; the later one moves.
    ``taken`` is updated with the new names.
    """
    names = format_iauname(ra, dec)
    while True:
        seen = set(taken)
        clashes = []
        for i, name in enumerate(names):
            if name in seen:
                clashes.append(i)
            seen.add(name)
        if not clashes:
            taken.update(names)
            return names
        ra[clashes], dec[clashes] = _draw_positions(rng, len(clashes))
        names[clashes] = format_iauname(ra[clashes], dec[clashes])


# ----------------------------------------------------------------------------------------------
# Catalogue columns: positions, photometry, vote fractions
# ----------------------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _bumps(x: np.ndarray, centres: tuple[float, ...], width: float) -> list[np.ndarray]:
    return [np.exp(-0.5 * ((x - c) / width) ** 2) for c in centres]


def _edge_on_score(p: pd.DataFrame) -> np.ndarray:
    return p["featured"] * _sigmoid((0.25 - p["axis_ratio"]) / 0.04)


def _visibility(p: pd.DataFrame) -> np.ndarray:
    """How much fine structure (arms, bars, rings, clumps) survives the seeing: near 1 for a
    large, well-resolved galaxy, towards 0 for a small, blurred one (``blur`` = seeing FWHM over
    the half-light radius)."""
    return 1.0 / (1.0 + (p["blur"].to_numpy() / BLUR_SCALE) ** 2)


def _vote_probabilities(p: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """Expected vote fractions per GZ DECaLS question and answer, from latent morphology."""
    featured, artefact = p["featured"].to_numpy(), p["artefact_score"].to_numpy()
    q, bulge = p["axis_ratio"].to_numpy(), p["bulge_fraction"].to_numpy()
    bar, tidal = p["bar_strength"].to_numpy(), p["tidal"].to_numpy()
    seen = _visibility(p)
    arms = p["arm_strength"].to_numpy() * seen
    bar = bar * seen
    edge_on = np.clip(_edge_on_score(p), 0.02, 0.98)
    strong_bar = _sigmoid((bar - 0.6) / 0.05)
    weak_bar = np.exp(-0.5 * ((bar - 0.4) / 0.08) ** 2) * (1 - strong_bar)
    count = p["arm_count"].to_numpy()
    arm_counts = {f"{k}": (count == k) * arms for k in (1, 2, 3, 4)}
    merger = tidal * (p["companion_flux"].to_numpy() > 0)
    ring = p["ring_strength"].to_numpy() * seen
    return {
        "smooth-or-featured": {
            "smooth": (1 - featured) * (1 - artefact),
            "featured-or-disk": featured * (1 - artefact),
            "artifact": artefact,
        },
        "disk-edge-on": {"yes": edge_on, "no": 1 - edge_on},
        "has-spiral-arms": {"yes": 0.05 + 0.9 * arms, "no": 0.95 - 0.9 * arms},
        "bar": {"strong": strong_bar, "weak": weak_bar, "no": 1 - strong_bar - weak_bar},
        "bulge-size": dict(
            zip(
                ("dominant", "large", "moderate", "small", "none"),
                _bumps(bulge, (0.85, 0.55, 0.3, 0.12, 0.0), 0.1),
                strict=True,
            )
        ),
        "how-rounded": {
            "round": _sigmoid((q - 0.7) / 0.06),
            "in-between": np.exp(-0.5 * ((q - 0.57) / 0.08) ** 2),
            "cigar-shaped": _sigmoid((0.45 - q) / 0.06),
        },
        "edge-on-bulge": {
            "boxy": np.full_like(q, 0.05),
            "none": 1 - _sigmoid((bulge - 0.12) / 0.04),
            "rounded": _sigmoid((bulge - 0.12) / 0.04),
        },
        "spiral-winding": dict(
            zip(
                ("tight", "medium", "loose"),
                _bumps(p["pitch"].to_numpy(), (11, 19, 30), 4.0),
                strict=True,
            )
        ),
        "spiral-arm-count": {
            **arm_counts,
            "more-than-4": (count == 5) * arms,
            "cant-tell": 1.2 - arms,
        },
        "merging": {
            "merger": 0.9 * merger,
            "major-disturbance": 0.6 * tidal * (merger == 0),
            "minor-disturbance": 0.1 + 0.3 * p["clumpiness"].to_numpy() * seen * (1 - tidal),
            "none": np.clip(1 - tidal, 0.0, 1.0),
        },
        "rings": {"yes": 0.03 + 0.92 * ring, "no": 0.97 - 0.92 * ring},
    }


def _vote_fractions(p: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Noisy vote fractions: a Dirichlet draw around the expected fractions of each question."""
    columns = {}
    questions = _vote_probabilities(p)
    for stream, (question, answers) in zip(
        rng.spawn(len(questions)), questions.items(), strict=True
    ):
        expected = np.clip(np.stack(list(answers.values()), axis=1), 0.0, None)
        expected /= expected.sum(axis=1, keepdims=True)
        draws = stream.gamma(VOTE_CONCENTRATION * expected + 0.05)
        fractions = draws / draws.sum(axis=1, keepdims=True)
        for j, answer in enumerate(answers):
            columns[f"{question}_{answer}_fraction"] = fractions[:, j].astype(np.float32)
    return columns


def _meta(
    p: pd.DataFrame, names: np.ndarray, ra: np.ndarray, dec: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    redshift = p["redshift"].to_numpy(np.float64)
    distance_mpc = 4283.0 * redshift * (1 + redshift)  # luminosity distance, H0 = 70
    mag_r = np.minimum(p["absolute_mag"] + 5 * np.log10(distance_mpc) + 25, 17.77)
    codes = p["morphology"].to_numpy()
    return pd.DataFrame(
        {
            "iauname": names,
            "ra": ra,
            "dec": dec,
            "morphology": pd.Categorical.from_codes(codes, categories=list(MORPHOLOGIES)),
            "is_ring": codes == MORPHOLOGIES.index("ring"),
            "redshift": redshift.astype(np.float32),
            "mag_r": mag_r.astype(np.float32),
            "petro_th50": p["petro_th50"].astype(np.float32),
            **_vote_fractions(p, rng),
        }
    )


# ----------------------------------------------------------------------------------------------
# Features: a fixed random nonlinear map of weighted morphology
# ----------------------------------------------------------------------------------------------

# Feature directions and their weights. Fine structure enters only as far as it is visible
# (see :func:`_visibility`); nuisance quantities of the observation (apparent size, seeing,
# redshift, depth, crowded fields) enter with comparable weight, as they do in a CNN's features.
MORPHOLOGY_WEIGHTS: dict[str, float] = {
    "featured": 2.0,
    "artefact_score": 3.0,
    "edge_on": 2.5,
    "arm_strength": 2.2,
    "arm_count": 0.6,
    "pitch": 0.6,
    "bar_strength": 2.0,
    "ring_strength": 1.0,
    "tidal": 2.5,
    "companion_flux": 1.0,
    "clumpiness": 0.8,
    "bulge_fraction": 1.0,
    "sersic_n": 0.5,
    "axis_ratio": 1.5,
    "extent": 0.4,
    "redness": 0.8,
    "dust": 0.5,
    "brightness": 0.3,
    "apparent_size": 1.0,
    "blur": 1.0,
    "redshift": 0.6,
    "depth": 0.6,
    "crowding": 0.6,
}


def _morphology_vector(p: pd.DataFrame) -> np.ndarray:
    """Weighted visible morphology and observing conditions, one row per galaxy
    (orientation-free)."""
    seen = _visibility(p)
    arms = p["arm_strength"] * seen
    columns = {
        "featured": p["featured"],
        "artefact_score": p["artefact_score"],
        "edge_on": _edge_on_score(p),
        "arm_strength": arms,
        "arm_count": (p["arm_count"] - 2) / 3 * arms,
        "pitch": (p["pitch"] - 20) / 15 * arms,
        "bar_strength": p["bar_strength"] * seen,
        "ring_strength": p["ring_strength"] * seen,
        "tidal": p["tidal"],
        "companion_flux": p["companion_flux"],
        "clumpiness": p["clumpiness"] * seen,
        "bulge_fraction": p["bulge_fraction"],
        "sersic_n": (p["sersic_n"] - 1) / 4,
        "axis_ratio": p["axis_ratio"],
        "extent": np.log(p["extent"] / 0.09),
        "redness": p["redness"],
        "dust": p["dust"],
        "brightness": np.log(p["brightness"]),
        "apparent_size": np.log(p["petro_th50"] / 3.5),
        "blur": seen,
        "redshift": (p["redshift"] - 0.06) / 0.04,
        "depth": np.log(p["depth"]),
        "crowding": p["crowding"] - 1.0,
    }
    weights = np.array([MORPHOLOGY_WEIGHTS[name] for name in columns], dtype=np.float32)
    return np.column_stack([np.asarray(c, dtype=np.float32) for c in columns.values()]) * weights


def _network(dim: int) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """The fixed two-layer random map ``morphology -> non-negative features`` (plus noise)."""
    rng = np.random.default_rng(NETWORK_SEED)
    k = len(MORPHOLOGY_WEIGHTS)
    first = rng.normal(0.0, 0.6, (k, HIDDEN_UNITS)).astype(np.float32)
    first_bias = rng.normal(0.0, 1.0, HIDDEN_UNITS).astype(np.float32)
    second = rng.normal(0.0, 1.0 / np.sqrt(HIDDEN_UNITS), (HIDDEN_UNITS, dim)).astype(np.float32)
    second_bias = rng.normal(-0.3, 0.3, dim).astype(np.float32)

    def apply(morphology: np.ndarray, noise_rng: np.random.Generator) -> np.ndarray:
        rows = len(morphology)
        # Fixed-shape blocks make BLAS round identically whatever n is (prefix-stable features).
        padded = np.zeros((-(-rows // NETWORK_BLOCK) * NETWORK_BLOCK, k), dtype=np.float32)
        padded[:rows] = morphology
        out = np.empty((rows, dim), dtype=np.float32)
        for start in range(0, rows, NETWORK_BLOCK):
            hidden = np.tanh(padded[start : start + NETWORK_BLOCK] @ first + first_bias)
            out[start : start + NETWORK_BLOCK] = (hidden @ second)[: rows - start]
        out += second_bias
        # uniform noise with standard deviation FEATURE_NOISE (much faster to draw than normal)
        noise = noise_rng.random(out.shape, dtype=np.float32)
        noise -= np.float32(0.5)
        noise *= np.float32(FEATURE_NOISE * np.sqrt(12.0))
        out += noise
        # softplus with sharpness 4 (smooth, non-negative, nearly ReLU): max(x, 0) + log1p(e^-|x|)
        out *= np.float32(SOFTPLUS_SHARPNESS)
        np.abs(out, out=noise)
        np.negative(noise, out=noise)
        np.exp(noise, out=noise)
        np.log1p(noise, out=noise)
        np.maximum(out, np.float32(0.0), out=out)
        out += noise
        out *= np.float32(1.0 / SOFTPLUS_SHARPNESS)
        return out

    return apply
