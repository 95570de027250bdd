"""DECaLS-like color thumbnails of synthetic galaxies, drawn from their latent morphology.

Each galaxy is a sum of components on a pixel grid — Sérsic bulge, inclined exponential disk,
logarithmic spiral arms, bar, ring, star-forming clumps, companion and tidal tails — each with its
own g/r/z color (bulges red, arms and clumps blue). Foreground stars (as many as the latent
``crowding`` says) and faint background galaxies are added, the image is blurred by a Gaussian
PSF of the galaxy's seeing (``blur`` half-light radii FWHM, the same parameter that dims fine
structure in its features and vote fractions), sky noise is added (``depth`` scales the galaxy's
signal-to-noise) and the g, r, z
bands are shown as blue, green and red with an asinh stretch, like Legacy Survey cutouts.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter

from galwidget.errors import DataError

__all__ = ["SyntheticThumbnails"]

SIZE_RANGE = (96, 256)
REFERENCE_SIZE = 128  # lengths that do not scale with the galaxy are given at this size
# g, r, z flux per unit luminance of the bluest and reddest stellar populations.
BLUE = np.array([1.3, 1.0, 0.75])
RED = np.array([0.75, 1.0, 1.2])
# Surface brightness within the half-light radius, in units of the sky noise.
SURFACE_BRIGHTNESS = 40.0
# asinh stretch: softening (in sky-noise units) and the value that maps to full brightness.
STRETCH_SOFTENING = 2.0
STRETCH_TOP = 700.0
# How strongly an edge-on dust lane dims g, r and z.
DUST_EXTINCTION = np.array([1.0, 0.75, 0.5])


class SyntheticThumbnails:
    """Render ``renderer(galaxy_id) -> uint8 (size, size, 3)`` thumbnails of synthetic galaxies.

    ``params`` is the latent morphology table indexed by galaxy id (made by
    :func:`galwidget.datasets.synthetic`). Rendering is deterministic: the random details (noise,
    stars, clumps) are seeded by the id and ``seed``.
    """

    def __init__(self, params: pd.DataFrame, size: int = REFERENCE_SIZE, seed: int = 0) -> None:
        if not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
            raise DataError(
                f"thumbnail size must be in {SIZE_RANGE[0]}–{SIZE_RANGE[1]}, got {size}"
            )
        self.params = params
        self.size = int(size)
        self.seed = seed
        self._columns = {name: params[name].to_numpy() for name in params.columns}

    def __repr__(self) -> str:
        return f"SyntheticThumbnails({len(self.params)} galaxies, size={self.size})"

    def __call__(self, galaxy_id: str) -> np.ndarray:
        """The thumbnail of ``galaxy_id``; unknown ids raise :class:`~galwidget.DataError`."""
        try:
            row = self.params.index.get_loc(galaxy_id)
        except (KeyError, TypeError):
            raise DataError(
                f"unknown galaxy id {galaxy_id!r}: not in this synthetic data set"
            ) from None
        p = {name: values[row].item() for name, values in self._columns.items()}
        digest = hashlib.blake2b(f"{self.seed}:{galaxy_id}".encode(), digest_size=8).digest()
        return render_galaxy(p, self.size, np.random.default_rng(int.from_bytes(digest, "big")))


# ----------------------------------------------------------------------------------------------
# Drawing
# ----------------------------------------------------------------------------------------------


def _color(redness: float) -> np.ndarray:
    """g, r, z flux per unit luminance; redness 0 is a young blue population, 1 an old red one."""
    return BLUE + redness * (RED - BLUE)


def _normalized(image: np.ndarray) -> np.ndarray:
    total = image.sum()
    return image / total if total > 0 else image


def _blobs(
    coords: np.ndarray, x: np.ndarray, y: np.ndarray, sigma: np.ndarray, flux: np.ndarray
) -> np.ndarray:
    """Sum of round Gaussians (total flux ``flux``) as separable outer products: fast for many."""
    gx = np.exp(-0.5 * ((coords[None, :] - x[:, None]) / sigma[:, None]) ** 2)
    gy = np.exp(-0.5 * ((coords[None, :] - y[:, None]) / sigma[:, None]) ** 2)
    gy *= (flux / (2 * np.pi * sigma**2))[:, None]
    return gy.T @ gx


def _sersic(radius: np.ndarray, effective_radius: float, n: float) -> np.ndarray:
    b = 2 * n - 1 / 3 + 0.009876 / n
    return np.exp(-b * (radius / effective_radius) ** (1 / n))


class _Frame:
    """Pixel coordinates of one galaxy: sky, galaxy-aligned and deprojected disk plane."""

    def __init__(self, size: int, centre: np.ndarray, position_angle: float, axis_ratio: float):
        self.coords = np.arange(size, dtype=np.float64)
        y, x = np.meshgrid(self.coords - centre[1], self.coords - centre[0], indexing="ij")
        self.centre, self.angle, self.q = centre, position_angle, axis_ratio
        cos, sin = np.cos(position_angle), np.sin(position_angle)
        self.major = x * cos + y * sin
        self.minor = -x * sin + y * cos
        self.radius = np.hypot(self.major, self.minor / axis_ratio)
        self.theta = np.arctan2(self.minor / axis_ratio, self.major)

    def to_sky(self, radius: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image coordinates of disk-plane points."""
        major, minor = radius * np.cos(theta), radius * np.sin(theta) * self.q
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        return self.centre[0] + major * cos - minor * sin, self.centre[
            1
        ] + major * sin + minor * cos


def render_galaxy(p: dict[str, Any], size: int, rng: np.random.Generator) -> np.ndarray:
    """Render one galaxy with latent parameters ``p`` as a ``(size, size, 3)`` uint8 RGB image."""
    scale = size / REFERENCE_SIZE
    r50 = p["extent"] * size
    centre = (size - 1) / 2 + rng.normal(0.0, 0.4 * scale, 2)
    frame = _Frame(size, centre, p["position_angle"], p["axis_ratio"])
    flux = SURFACE_BRIGHTNESS * p["brightness"] * p["depth"] * 2 * np.pi * r50**2 * p["axis_ratio"]
    artefact = p["artefact_score"] > 0.5
    if artefact:
        flux *= 0.3

    bands = np.zeros((3, size, size))
    for weight, color, image in _galaxy_components(p, frame, r50, rng):
        if weight > 0:
            bands += (flux * weight * color)[:, None, None] * _normalized(image)[None]
    if p["dust"] > 0:
        lane = np.exp(-0.5 * (frame.minor / max(0.5 * p["axis_ratio"] * r50, 0.6 * scale)) ** 2)
        lane *= np.exp(-0.5 * (frame.major / (1.6 * r50)) ** 2)
        bands *= 1 - p["dust"] * DUST_EXTINCTION[:, None, None] * lane[None]
    if p["companion_flux"] > 0 or p["tidal"] > 0.15:
        bands += _interaction(p, frame, r50, flux, rng)
    bands += _field(frame.coords, scale, p["crowding"], rng)
    # The seeing FWHM is ``blur`` half-light radii (the thumbnail is framed by the galaxy's size).
    psf = float(np.clip(p["blur"] * r50 / 2.355, 0.6 * scale, 8.0 * scale))
    bands = np.stack([gaussian_filter(band, psf) for band in bands])
    if artefact:
        bands += _artefact(p, frame, scale, rng)
    bands += rng.normal(0.0, 1.0, bands.shape)
    if artefact and p["artefact_kind"] == 2:
        missing = rng.choice(3, size=2, replace=False)
        columns = slice(0, int(size * rng.uniform(0.2, 0.45)))
        bands[missing[:, None], :, columns] = 0.0
    return _to_rgb(bands)


def _galaxy_components(
    p: dict[str, Any], frame: _Frame, r50: float, rng: np.random.Generator
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """(luminance weight, g/r/z color, image) of each component of the main galaxy."""
    radius, theta = frame.radius, frame.theta
    scale_length = r50 / 1.678
    spheroid = p["bulge_radius"] > 0.8
    bulge_q = p["axis_ratio"] if spheroid else max(p["axis_ratio"], 0.65)
    bulge_radius = np.sqrt(frame.major**2 + (frame.minor / bulge_q) ** 2 + 0.3**2)
    bulge = _sersic(bulge_radius, p["bulge_radius"] * r50, p["sersic_n"])

    disk = np.exp(-radius / scale_length)
    ring_radius = p["ring_radius"] * r50
    ring_strength = p["ring_strength"]
    if ring_strength > 0.1:  # the disk inside a ring is depleted
        disk *= 1 - 0.95 * ring_strength * np.exp(-0.5 * (radius / (0.8 * ring_radius)) ** 4)
    ring = np.exp(-0.5 * ((radius - ring_radius) / (0.12 * ring_radius)) ** 2)
    ring *= 1 + 0.3 * np.cos(2 * (theta - p["bar_angle"]))

    barred = p["bar_strength"] > 0.2
    bar_length = p["bar_length"] * r50
    along = radius * np.cos(theta - p["bar_angle"])
    across = radius * np.sin(theta - p["bar_angle"])
    bar = np.exp(-((along / bar_length) ** 4) - 0.5 * (across / (0.15 * bar_length)) ** 2)

    arm_count = 6 if p["arm_count"] == 5 else p["arm_count"]
    inner = bar_length if barred else 0.4 * r50
    winding = 1 / np.tan(np.radians(p["pitch"]))
    log_radius = np.log(np.maximum(radius, 1e-3) / inner)
    phase = arm_count * (theta - p["bar_angle"] - p["spin"] * winding * log_radius)
    arms = ((1 + np.cos(phase)) / 2) ** 4
    arms *= (1 - np.exp(-((radius / inner) ** 2))) * np.exp(-radius / (1.3 * scale_length))

    clumps = _clumps(p, frame, r50, inner, winding, arm_count, rng)
    bulge_fraction = p["bulge_fraction"]
    disk_light = 1 - bulge_fraction
    arm_share = 0.6 * p["arm_strength"]
    redness = p["redness"]
    return [
        (bulge_fraction, _color(min(1.0, redness + 0.35)), bulge),
        (disk_light * (1 - arm_share), _color(redness), disk),
        (disk_light * arm_share, _color(redness - 0.15), arms),
        (disk_light * 0.7 * p["bar_strength"] * barred, _color(min(1.0, redness + 0.25)), bar),
        (disk_light * 0.7 * ring_strength * (ring_strength > 0.1), _color(redness - 0.05), ring),
        (disk_light * 0.3 * p["clumpiness"], _color(-0.25), clumps),
    ]


def _clumps(
    p: dict[str, Any],
    frame: _Frame,
    r50: float,
    inner: float,
    winding: float,
    arm_count: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Star-forming knots: along the arms of spirals, scattered over the disk otherwise."""
    count = round(40 * p["clumpiness"])
    if count == 0:
        return np.zeros_like(frame.radius)
    outer = 2.2 * r50
    if p["arm_strength"] > 0.3:
        radius = inner * np.exp(rng.uniform(0.0, np.log(max(outer / inner, 1.01)), count))
        arm = rng.integers(0, arm_count, count)
        theta = (
            p["bar_angle"]
            + 2 * np.pi * arm / arm_count
            + p["spin"] * winding * np.log(radius / inner)
            + rng.normal(0.0, 0.12, count)
        )
    else:
        radius = np.abs(rng.normal(0.0, 1.1 * r50, count))
        theta = rng.uniform(0.0, 2 * np.pi, count)
    x, y = frame.to_sky(radius, theta)
    scale = len(frame.coords) / REFERENCE_SIZE
    sigma = rng.uniform(0.5, 1.3, count) * scale
    return _blobs(frame.coords, x, y, sigma, rng.exponential(1.0, count))


def _interaction(
    p: dict[str, Any], frame: _Frame, r50: float, flux: float, rng: np.random.Generator
) -> np.ndarray:
    """A companion galaxy and tidal tails, in g/r/z."""
    bands = np.zeros((3, *frame.radius.shape))
    scale = len(frame.coords) / REFERENCE_SIZE
    angle = p["companion_angle"]
    starts = [frame.centre]
    if p["companion_flux"] > 0:
        offset = p["companion_distance"] * r50 * np.array([np.cos(angle), np.sin(angle)])
        companion_centre = frame.centre + offset
        companion = _Frame(len(frame.coords), companion_centre, angle + 1.0, 0.7)
        image = _normalized(_sersic(np.maximum(companion.radius, 0.3), 0.55 * r50, 1.5))
        color = _color(rng.uniform(0.3, 0.9))
        bands += (p["companion_flux"] * flux * color)[:, None, None] * image[None]
        starts.append(companion_centre)
    steps = np.linspace(0.0, 1.0, 48)
    for i, start in enumerate(starts):
        direction = angle + np.pi / 2 + i * np.pi + rng.normal(0.0, 0.3)
        reach = r50 * (0.8 + 3.5 * steps) * rng.uniform(0.8, 1.2)
        bend = direction + p["spin"] * 1.5 * steps
        x, y = start[0] + reach * np.cos(bend), start[1] + reach * np.sin(bend)
        sigma = (1.0 + 2.5 * steps) * scale
        strength = 0.3 * p["tidal"] * flux * (1 - 0.7 * steps) / len(steps)
        tail = _blobs(frame.coords, x, y, sigma, strength)
        bands += _color(p["redness"] - 0.1)[:, None, None] * tail[None]
    return bands


def _field(
    coords: np.ndarray, scale: float, crowding: float, rng: np.random.Generator
) -> np.ndarray:
    """Foreground stars (point sources, ``1.5 * crowding`` on average at the reference size) and
    faint, small background galaxies, in g/r/z."""
    size = len(coords)
    bands = np.zeros((3, size, size))
    area = scale**2
    for count, sigma, log_flux, redness in (
        (rng.poisson(1.5 * crowding * area), (0.3, 0.4), (1.8, 3.8), (-0.2, 1.3)),
        (rng.poisson(4.0 * area), (0.6, 1.8), (1.3, 2.3), (0.3, 1.2)),
    ):
        for _ in range(count):
            x, y = rng.uniform(0, size - 1, 2)
            image = _blobs(
                coords,
                np.array([x]),
                np.array([y]),
                np.array([rng.uniform(*sigma) * scale]),
                np.array([10 ** rng.uniform(*log_flux)]),
            )
            bands += _color(rng.uniform(*redness))[:, None, None] * image[None]
    return bands


def _artefact(
    p: dict[str, Any], frame: _Frame, scale: float, rng: np.random.Generator
) -> np.ndarray:
    """A bright star with diffraction spikes, or a satellite trail (kind 2 adds missing data)."""
    bands = np.zeros((3, *frame.radius.shape))
    x = frame.coords[None, :] - frame.centre[0]
    y = frame.coords[:, None] - frame.centre[1]
    if p["artefact_kind"] == 0:
        peak = 10 ** rng.uniform(3.0, 3.8)
        core = peak * np.exp(-0.5 * (x**2 + y**2) / (1.3 * scale) ** 2)
        halo = 0.03 * peak * np.exp(-0.5 * (x**2 + y**2) / (6.0 * scale) ** 2)
        spikes = (
            0.1
            * peak
            * (
                np.exp(-np.abs(x) / (12 * scale) - 0.5 * (y / (0.6 * scale)) ** 2)
                + np.exp(-np.abs(y) / (12 * scale) - 0.5 * (x / (0.6 * scale)) ** 2)
            )
        )
        bands += _color(rng.uniform(0.0, 1.0))[:, None, None] * (core + halo + spikes)[None]
    else:
        angle = rng.uniform(0.0, np.pi)
        distance = x * np.sin(angle) - y * np.cos(angle) - rng.normal(0.0, 10 * scale)
        band = rng.integers(0, 3)
        bands[band] += 10 ** rng.uniform(1.8, 2.5) * np.exp(-0.5 * (distance / (0.9 * scale)) ** 2)
    return bands


def _to_rgb(bands: np.ndarray) -> np.ndarray:
    """g, r, z (sky noise 1) to a uint8 RGB image: z red, r green, g blue, asinh stretched."""
    rgb = bands[::-1].transpose(1, 2, 0)
    stretched = np.arcsinh(rgb / STRETCH_SOFTENING) / np.arcsinh(STRETCH_TOP / STRETCH_SOFTENING)
    return (np.clip(stretched, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
