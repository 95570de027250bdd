"""Thumbnail sources: where each galaxy's picture comes from.

:func:`resolve` turns what the user passed as ``images=`` into an :class:`ImageSource` of one of
three kinds:

- ``"url"`` (:class:`UrlImages`): the browser loads ``source.url(position)`` directly: a URL
  template such as ``"https://host/{id}.jpg"``, or a survey cutout preset
  (:func:`legacy_survey`, :func:`sdss`).
- ``"bytes"`` (:class:`ImageBytes`): the kernel makes the thumbnail and ``source.fetch(position)``
  returns encoded bytes: local files (:func:`local_files`) or a callable ``id -> image``.
- ``"none"`` (:class:`NoImages`): nothing to show.

Templates and file patterns are Python format strings whose fields are ``id``, ``ra``, ``dec``
(degrees, 6 decimals unless a format spec is given) or any ``meta`` column, with an optional string
slice, e.g. ``"{id[:4]}/{id}.png"`` for the GZ DECaLS folder layout or ``"{ra:.4f}"``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import string
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, TypeAlias
from urllib.parse import quote

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from galwidget.data import Representations
from galwidget.errors import DataError, ImageError

__all__ = [
    "CacheInfo",
    "ImageBytes",
    "ImageError",
    "ImageSource",
    "LegacySurvey",
    "LocalFiles",
    "NoImages",
    "OutputFile",
    "Sdss",
    "UrlImages",
    "check_output_folder",
    "decals_pixscale",
    "legacy_survey",
    "local_files",
    "resolve",
    "sdss",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
JPEG_QUALITY = 90
RADEC_FORMAT = ".6f"
# DECam's native pixel scale (arcsec/pixel), the Legacy Survey default.
NATIVE_PIXSCALE = 0.262
# The meta column of per-galaxy cutout scales that default Legacy Survey thumbnails add.
FRAMING_COLUMN = "cutout_pixscale"
# Characters left as they are when a value is put into a URL: everything that structures a URL.
# Anything else (notably "+" in IAU names, which a query string would read as a space) is
# percent-encoded.
URL_SAFE = ":/?&=@!$'()*,;~%"
FIELD = r"^(?P<name>[^\[\]]+?)(?:\[(?P<start>-?\d*):(?P<stop>-?\d*)\])?$"
# Turning Pillow's decompression-bomb warning into an error changes the process-wide warning
# filters for a moment: one thread at a time (opening only parses the header).
_BOMB_LOCK = threading.Lock()

# A callable ``id -> image``: encoded bytes, a uint8 HxW / HxWx3 (or float 0–1) array, or a PIL image.
Render: TypeAlias = Callable[[str], bytes | bytearray | memoryview | np.ndarray | Image.Image]


# ----------------------------------------------------------------------------------------------
# Templates: "{id[:4]}/{id}.png", "https://…?ra={ra}&dec={dec}"
# ----------------------------------------------------------------------------------------------


class _Field(NamedTuple):
    name: str
    start: int | None
    stop: int | None
    spec: str


class _Template:
    """A format string whose fields are read from one galaxy's id, ra/dec and meta columns."""

    def __init__(self, template: str, reps: Representations, what: str) -> None:
        self.template = template
        self._parts: list[tuple[str, _Field | None]] = []
        unknown = []
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as error:
            raise DataError(f"{what} {template!r} is not a valid format string: {error}") from None
        for literal, field_name, spec, conversion in parsed:
            if field_name is None:
                self._parts.append((literal, None))
                continue
            match = re.match(FIELD, field_name)
            if conversion or not match:
                raise DataError(
                    f"{what} {template!r}: cannot read the field {{{field_name}}}: use "
                    "{column}, {column:spec} or {column[start:stop]}"
                )
            name = match["name"]
            start = int(match["start"]) if match["start"] else None
            stop = int(match["stop"]) if match["stop"] else None
            if not spec and name in {"ra", "dec"}:
                spec = RADEC_FORMAT
            self._parts.append((literal, _Field(name, start, stop, spec or "")))
            if name not in {"id", "ra", "dec"} and name not in reps.meta.columns:
                unknown.append(name)
        if unknown:
            raise DataError(
                f"{what} {template!r} has unknown placeholders "
                + ", ".join(f"{{{u}}}" for u in unknown)
                + "; available: {id}, {ra}, {dec}"
                + "".join(f", {{{c}}}" for c in reps.meta.columns)
            )
        if all(field is None for _, field in self._parts):
            raise DataError(f"{what} {template!r} has no placeholders such as {{id}} or {{ra}}")
        self._values: dict[str, np.ndarray] = {}
        for _, field in self._parts:
            if field is None or field.name in self._values:
                continue
            self._values[field.name] = self._column(field.name, reps, template, what)
        try:
            self.format(0)
        except ImageError as error:
            raise DataError(f"{what} {template!r}: {error.reason}") from None

    @staticmethod
    def _column(name: str, reps: Representations, template: str, what: str) -> np.ndarray:
        if name == "id":
            return reps.ids.to_numpy(dtype=object)
        if name in {"ra", "dec"}:
            if reps.radec is None:
                raise DataError(
                    f"{what} {template!r} uses {{{name}}} but the data has no ra/dec columns and "
                    f"its ids ({reps.id_column}) are not IAU names"
                )
            return reps.radec[:, 0 if name == "ra" else 1]
        return reps.meta[name].to_numpy(dtype=object)

    @property
    def fields(self) -> list[str]:
        """The names the template reads, in order of first use."""
        return list(self._values)

    def format(self, position: int) -> str | None:
        """The template filled in for one row, or ``None`` if a value it needs is missing."""
        return self._format(position, lambda text: text)

    def format_url(self, position: int) -> str | None:
        """Like :meth:`format`, with each value percent-encoded for a URL."""
        return self._format(position, lambda text: quote(text, safe=URL_SAFE))

    def _format(self, position: int, encode: Callable[[str], str]) -> str | None:
        pieces = []
        for literal, field in self._parts:
            pieces.append(literal)
            if field is None:
                continue
            value = self._values[field.name][position]
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                return None
            if field.start is not None or field.stop is not None:
                value = str(value)[field.start : field.stop]
            try:
                text = format(value, field.spec)
            except (TypeError, ValueError) as error:
                raise ImageError(f"cannot format {field.name}={value}: {error}") from None
            pieces.append(encode(text))
        return "".join(pieces)


def _check_position(position: int, n: int) -> int:
    position = int(position)
    if not 0 <= position < n:
        raise ImageError(f"position {position} is out of range (0 … {n - 1})")
    return position


# ----------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------


class ImageSource:
    """Thumbnails for the rows of one :class:`~galwidget.Representations`, by row position."""

    kind: ClassVar[Literal["url", "bytes", "none"]]

    def __init__(self, n: int, size: int) -> None:
        self.n = n
        self.size = size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, n={self.n}, size={self.size})"

    def url(self, position: int) -> str:
        """The thumbnail URL of the galaxy at ``position`` (kind ``"url"``).

        Raises :class:`ImageError` for sources of other kinds.
        """
        raise ImageError(f"{type(self).__name__} thumbnails have no URLs")

    def urls(self, positions: Sequence[int] | np.ndarray) -> list[str | None]:
        """URLs of many galaxies (kind ``"url"``); :class:`ImageError` for other kinds."""
        raise ImageError(f"{type(self).__name__} thumbnails have no URLs")

    def fetch(self, position: int) -> tuple[bytes, str]:
        """``(encoded bytes, mime type)`` of the thumbnail at ``position`` (kind ``"bytes"``).

        Raises :class:`ImageError` for sources of other kinds.
        """
        raise ImageError(f"{type(self).__name__} thumbnails are not made in the kernel")


class NoImages(ImageSource):
    """No thumbnails: the widget shows placeholders."""

    kind = "none"


class UrlImages(ImageSource):
    """Thumbnails the browser loads from URLs built from a template."""

    kind = "url"

    def __init__(self, template: str, reps: Representations, size: int) -> None:
        super().__init__(len(reps), size)
        self._template = _Template(template, reps, "URL template")

    @property
    def template(self) -> str:
        """The URL template, with ``{id}``, ``{ra}``, ``{dec}`` and column placeholders."""
        return self._template.template

    @property
    def fields(self) -> list[str]:
        """The placeholders the template uses."""
        return self._template.fields

    def url(self, position: int) -> str:
        """The thumbnail URL of the galaxy at ``position``.

        Raises :class:`ImageError` if a value the template needs (e.g. ra) is missing.
        """
        url = self._template.format_url(_check_position(position, self.n))
        if url is None:
            missing = ", ".join(self.fields)
            raise ImageError(f"no image: a value the URL needs is missing ({missing})")
        return url

    def urls(self, positions: Sequence[int] | np.ndarray) -> list[str | None]:
        """URLs of many galaxies; ``None`` where a value the template needs is missing."""
        return [
            self._template.format_url(_check_position(p, self.n)) for p in np.asarray(positions)
        ]


class CacheInfo(NamedTuple):
    """Statistics of a thumbnail cache (see :meth:`ImageBytes.cache_info`)."""

    hits: int
    misses: int
    entries: int
    bytes: int
    max_bytes: int


class _BytesLRU:
    """A thread-safe least-recently-used cache bounded by the total size of its values."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: int) -> tuple[bytes, str] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: int, item: tuple[bytes, str]) -> None:
        size = len(item[0])
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[0])
            self._items[key] = item
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (evicted, _) = self._items.popitem(last=False)
                self._bytes -= len(evicted)

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self.hits, self.misses, len(self._items), self._bytes, self.max_bytes)


class ImageBytes(ImageSource):
    """Thumbnails made in the kernel: read, centre-cropped to a square, resized and encoded.

    Images are encoded as JPEG (quality 90): galaxy images are photographs, and JPEG thumbnails are
    several times smaller than PNG ones. Images with transparency are encoded as PNG. Results are
    kept in a thread-safe LRU cache of at most ``max_bytes``.
    """

    kind = "bytes"

    def __init__(
        self,
        load: Callable[[int], Image.Image],
        n: int,
        size: int,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        super().__init__(n, size)
        self._load = load
        self._cache = _BytesLRU(max_bytes)

    def fetch(self, position: int) -> tuple[bytes, str]:
        """``(encoded bytes, mime type)`` of the thumbnail at ``position``.

        Raises :class:`ImageError` with a short reason if the image cannot be made.
        """
        position = _check_position(position, self.n)
        cached = self._cache.get(position)
        if cached is not None:
            return cached
        image = self._load(position)
        item = _encode(ImageOps.fit(image, (self.size, self.size), Image.Resampling.LANCZOS))
        self._cache.put(position, item)
        return item

    def cache_info(self) -> CacheInfo:
        """Hits, misses, entries and bytes of the thumbnail cache."""
        return self._cache.info()


def _encode(image: Image.Image) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if image.mode in {"RGBA", "LA"}:
        image.save(buffer, format="PNG", optimize=False)
        return buffer.getvalue(), "image/png"
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue(), "image/jpeg"


def _normalize_mode(image: Image.Image) -> Image.Image:
    if image.mode in {"RGB", "L", "RGBA", "LA"}:
        return image
    if image.mode == "P" and "transparency" in image.info:
        return image.convert("RGBA")
    return image.convert("RGB")


def _open_image(data: bytes | Path, name: str) -> Image.Image:
    """Decode an encoded image (bytes or a file); every failure is an :class:`ImageError` naming
    ``name``. Files that are not regular files (FIFOs, devices, folders) are refused without
    reading them: a FIFO would block the thread forever. Images over Pillow's decompression-bomb
    limit (``PIL.Image.MAX_IMAGE_PIXELS``) are refused, not decoded."""
    try:
        with _open_file(data, name) if isinstance(data, Path) else io.BytesIO(data) as handle:
            with _BOMB_LOCK, warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(handle)
            with image:
                image.draft("RGB", (1024, 1024))  # JPEG: decode at a reduced scale when large
                image.load()
                return _normalize_mode(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"image too large (a decompression bomb?): {name}: {error}") from None
    except FileNotFoundError:
        raise ImageError(f"file not found: {name}") from None
    except UnidentifiedImageError:
        raise ImageError(f"not an image: {name}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:  # Pillow's decoder errors
        raise ImageError(f"cannot read {name}: {error}") from None


def _open_file(path: Path, name: str) -> io.BufferedReader:
    """Open a regular file for reading; FIFOs and devices are refused before any read."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer (it has no effect on regular files).
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (FIFO, device, …)"
            raise ImageError(f"cannot read {name}: it is {kind}")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _array_image(array: np.ndarray, name: str) -> Image.Image:
    """An image from a uint8 array or a float array with values in [0, 1]."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{name} returned an array of shape {array.shape}: expected HxW or HxWx3")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{name} returned an empty array of shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError(f"{name} returned an array with NaN or infinite values")
        array = np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        raise ImageError(f"{name} returned a {array.dtype} array: expected uint8 or float in 0–1")
    return Image.fromarray(np.ascontiguousarray(array))


def _callable_loader(render: Render, ids: pd.Index) -> Callable[[int], Image.Image]:
    name = getattr(render, "__name__", type(render).__name__)

    def load(position: int) -> Image.Image:
        galaxy = ids[position]
        try:
            result = render(galaxy)
        except Exception as error:
            raise ImageError(f"{name} raised {type(error).__name__}: {error}") from error
        if isinstance(result, bytes | bytearray | memoryview):
            return _open_image(bytes(result), f"the bytes {name} returned for {galaxy}")
        if isinstance(result, Image.Image):
            return _normalize_mode(result)
        if isinstance(result, np.ndarray):
            return _array_image(result, name)
        raise ImageError(f"{name} returned {type(result).__name__}: expected an array or bytes")

    return load


# ----------------------------------------------------------------------------------------------
# Presets
# ----------------------------------------------------------------------------------------------


def decals_pixscale(petro_th50: Any, petro_th90: Any, size: int = 424) -> Any:
    """Cutout pixel scale (arcsec/pixel) that frames each galaxy as GZ DECaLS did.

    GZ DECaLS (``zooniverse/decals``, ``download_images_threaded.py``) requested 424-pixel cutouts
    at ``max(min(0.04 * petro_th50, 0.02 * petro_th90), 0.1)`` arcsec/pixel (NSA Petrosian 50% and
    90% light radii in arcsec). For ``size`` other than 424 the scale is multiplied by
    ``424 / size`` so the field of view stays the same. Vectorised; returns a float for scalars.
    """
    th50 = np.asarray(petro_th50, dtype=np.float64)
    th90 = np.asarray(petro_th90, dtype=np.float64)
    pixscale = np.maximum(np.minimum(0.04 * th50, 0.02 * th90), 0.1) * (424.0 / size)
    return float(pixscale) if pixscale.ndim == 0 else pixscale


def _scale_field(scale: float | str) -> str:
    """A pixel scale for a URL template: a number, or a column placeholder with 4 decimals."""
    return f"{{{scale}:.4f}}" if isinstance(scale, str) else f"{scale:g}"


@dataclass(frozen=True)
class LegacySurvey:
    """Preset: JPEG cutouts from the Legacy Surveys viewer (see :func:`legacy_survey`)."""

    layer: str = "ls-dr10"
    pixscale: float | str = NATIVE_PIXSCALE
    size: int | None = None

    BASE: ClassVar[str] = "https://www.legacysurvey.org/viewer/cutout.jpg"

    def url_template(self, size: int) -> str:
        """The URL template for thumbnails of ``size`` pixels (unless this preset fixes one)."""
        pixscale = _scale_field(self.pixscale)
        return (
            f"{self.BASE}?ra={{ra}}&dec={{dec}}&layer={quote(self.layer)}"
            f"&pixscale={pixscale}&size={self.size or size}"
        )


@dataclass(frozen=True)
class Sdss:
    """Preset: JPEG cutouts from the SDSS DR17 SkyServer (see :func:`sdss`)."""

    scale: float | str = 0.396
    size: int | None = None

    BASE: ClassVar[str] = "https://skyserver.sdss.org/dr17/SkyServerWS/ImgCutout/getjpeg"

    def url_template(self, size: int) -> str:
        """The URL template for thumbnails of ``size`` pixels (unless this preset fixes one)."""
        scale = _scale_field(self.scale)
        pixels = self.size or size
        return f"{self.BASE}?ra={{ra}}&dec={{dec}}&scale={scale}&width={pixels}&height={pixels}"


def legacy_survey(
    layer: str = "ls-dr10", pixscale: float | str = NATIVE_PIXSCALE, size: int | None = None
) -> LegacySurvey:
    """Legacy Surveys viewer cutouts by ra/dec, loaded by the browser.

    ``pixscale`` is in arcsec/pixel (0.262 is DECam's native scale) or the name of a meta column
    holding one per galaxy, e.g. one computed with :func:`decals_pixscale`. ``size`` is the cutout
    width in pixels, by default the thumbnail size. Layers: ``"ls-dr10"``, ``"ls-dr9"``,
    ``"sdss"``, … (see legacysurvey.org/viewer).
    """
    return LegacySurvey(layer=layer, pixscale=pixscale, size=size)


def sdss(scale: float | str = 0.396, size: int | None = None) -> Sdss:
    """SDSS DR17 SkyServer ``ImgCutout/getjpeg`` cutouts by ra/dec, loaded by the browser.

    ``scale`` is in arcsec/pixel (0.396 is SDSS's native scale) or a meta column name; ``size`` is
    the width and height in pixels, by default the thumbnail size.
    """
    return Sdss(scale=scale, size=size)


@dataclass(frozen=True)
class LocalFiles:
    """Preset: image files on this machine, read by the kernel (see :func:`local_files`)."""

    column_or_directory: str | Path
    root: Path | None = None
    pattern: str | Callable[[str], str | PathLike[str]] = "{id}.png"

    def loader(self, reps: Representations) -> Callable[[int], Image.Image]:
        """A function reading the image of the galaxy at a row position."""
        path_of = self.path_of(reps)

        def load(position: int) -> Image.Image:
            path, name = path_of(position)
            return _open_image(path, name)

        return load

    def path_of(self, reps: Representations) -> Callable[[int], tuple[Path, str]]:
        """A function giving the image file of the galaxy at a row position, and its name as
        written (in the column or by the pattern): relative names are taken from the directory
        (or ``root``), and a file resolving outside ``root`` is refused. Raises
        :class:`ImageError` for a galaxy without a file name or one outside the root."""
        source = self.column_or_directory
        if isinstance(source, str) and source in reps.meta.columns:
            column = reps.meta[source].to_numpy(dtype=object)
            root = _resolved_root(self.root) if self.root is not None else None

            def relative(position: int) -> str | None:
                value = column[position]
                return None if value is None or value is pd.NA or value != value else str(value)

            return _file_paths(relative, root, f"{source!r} is empty for this galaxy")
        directory = Path(source).expanduser()
        if not directory.is_dir():
            raise DataError(
                f"local_files: {str(source)!r} is neither a meta column nor a directory; columns: "
                + ", ".join(map(str, reps.meta.columns))
            )
        root = _resolved_root(self.root if self.root is not None else directory)
        base = directory.resolve()
        if callable(self.pattern):
            pattern = self.pattern
            ids = reps.ids

            def relative(position: int) -> str | None:
                try:
                    return str(pattern(ids[position]))
                except Exception as error:
                    raise ImageError(f"pattern raised {type(error).__name__}: {error}") from error

        else:
            template = _Template(self.pattern, reps, "file pattern")
            relative = template.format
        missing = f"it lacks a value the file pattern {self.pattern!r} needs"
        return _file_paths(relative, root, missing, base)


def _resolved_root(root: str | PathLike[str]) -> Path:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(f"image root {str(root)!r} is not a directory")
    return path.resolve()


def _file_paths(
    relative: Callable[[int], str | None], root: Path | None, what: str, base: Path | None = None
) -> Callable[[int], tuple[Path, str]]:
    """``base / relative(position)`` (``base`` defaults to ``root``) and the name as written,
    refusing paths that resolve outside ``root``; ``what`` says why a galaxy has no name."""
    base = base or root

    def path_of(position: int) -> tuple[Path, str]:
        name = relative(position)
        if not name:
            raise ImageError(f"no image file: {what}")
        if "\0" in name:
            raise ImageError(f"invalid file name (it contains a NUL byte): {name!r}")
        path = Path(name).expanduser()
        if base is not None:
            path = base / path
        if root is not None:
            resolved = path.resolve()
            if not resolved.is_relative_to(root):
                raise ImageError(f"outside the image root: {name}")
            path = resolved
        return path, name

    return path_of


def local_files(
    column_or_directory: str | PathLike[str],
    root: str | PathLike[str] | None = None,
    pattern: str | Callable[[str], str | PathLike[str]] = "{id}.png",
) -> LocalFiles:
    """Image files read by the kernel, made into thumbnails and sent to the browser.

    Two forms:

    - a meta column of file paths (``local_files("png_loc", root="/data/decals")``): relative
      paths are read from ``root`` (the working directory if ``root`` is ``None``); with a
      ``root`` no path may lead outside it. The Zenodo files' ``png_loc`` holds absolute paths on
      the authors' disks: rewrite them first, e.g. with ``meta["png_loc"].str.replace(...)``.
    - a directory and a ``pattern``: a format string on ``id``/``ra``/``dec``/meta columns
      (``"{id}.png"``; GZ DECaLS: ``"{id[:4]}/{id}.png"``) or a callable ``id -> relative path``.
      ``root`` defaults to the directory.

    Paths that resolve outside ``root`` (through ``..``, an absolute path or a symlink) are refused
    with ``ImageError("outside the image root: …")``. A ``str`` naming a meta column is a column;
    anything else is a directory.
    """
    source = (
        column_or_directory if isinstance(column_or_directory, str) else Path(column_or_directory)
    )
    return LocalFiles(source, None if root is None else Path(root), pattern)


# ----------------------------------------------------------------------------------------------
# resolve
# ----------------------------------------------------------------------------------------------

ImagesSpec: TypeAlias = str | LegacySurvey | Sdss | LocalFiles | ImageSource | Render | None


def _default_cutouts(reps: Representations, size: int) -> UrlImages:
    """Legacy Survey cutouts, framed by each galaxy's Petrosian radii as GZ DECaLS did when the
    catalogue has ``petro_th50``/``petro_th90`` (others at the native 0.262"/pixel)."""
    if not {"petro_th50", "petro_th90"} <= set(reps.meta.columns):
        return UrlImages(legacy_survey().url_template(size), reps, size)
    radii = reps.meta[["petro_th50", "petro_th90"]].apply(pd.to_numeric, errors="coerce")
    pixscale = decals_pixscale(radii["petro_th50"], radii["petro_th90"], size=size)
    framed = Representations(
        reps.ids,
        reps.features,
        reps.meta.assign(**{FRAMING_COLUMN: np.nan_to_num(pixscale, nan=NATIVE_PIXSCALE)}),
    )
    return UrlImages(legacy_survey(pixscale=FRAMING_COLUMN).url_template(size), framed, size)


def resolve(
    images: ImagesSpec, reps: Representations, size: int = 128, max_bytes: int = DEFAULT_MAX_BYTES
) -> ImageSource:
    """The :class:`ImageSource` for ``images`` and the galaxies of ``reps``.

    ``images`` is ``None`` (``reps.images`` if set, else Legacy Survey cutouts if ``reps.radec``
    is known, else no images), a URL template string, a preset (:func:`legacy_survey`,
    :func:`sdss`, :func:`local_files`), a callable ``id -> array or encoded bytes`` (uint8 HxW /
    HxWx3, or float in 0–1), or an :class:`ImageSource` (returned as is). ``size`` is the
    thumbnail width and height in pixels; ``max_bytes`` bounds the thumbnail cache of kind
    ``"bytes"``. Bad templates (unknown placeholders) raise :class:`~galwidget.DataError`.
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or not 8 <= size <= 4096:
        raise DataError(f"thumbnail size must be an integer from 8 to 4096 pixels, got {size!r}")
    size = int(size)
    if images is None:
        if reps.images is not None:
            return resolve(reps.images, reps, size, max_bytes)
        if reps.radec is not None:
            return _default_cutouts(reps, size)
        return NoImages(len(reps), size)
    if isinstance(images, ImageSource):
        return images
    if isinstance(images, str):
        if images in reps.meta.columns or Path(images).expanduser().is_dir():
            raise DataError(
                f"images={images!r} names a column or folder, not a URL template; for image "
                f"files use gw.images.local_files({images!r})"
            )
        return UrlImages(images, reps, size)
    if isinstance(images, LegacySurvey | Sdss):
        return UrlImages(images.url_template(size), reps, size)
    if isinstance(images, LocalFiles):
        return ImageBytes(images.loader(reps), len(reps), size, max_bytes)
    if callable(images):
        return ImageBytes(_callable_loader(images, reps.ids), len(reps), size, max_bytes)
    hint = (
        " (for a folder of images use gw.images.local_files(folder))"
        if isinstance(images, PathLike)
        else ""
    )
    raise DataError(
        "images must be None, a URL template, a preset or a callable, "
        f"got {type(images).__name__}{hint}"
    )


# ----------------------------------------------------------------------------------------------
# Files galwidget writes (exported images, catalogues, saved pages)
# ----------------------------------------------------------------------------------------------


def _path_text(path: Any, what: str) -> Path:
    if not isinstance(path, str | PathLike):
        raise DataError(f"{what} must be a path (str or Path), got {type(path).__name__}")
    text = os.fspath(path)
    if isinstance(text, bytes) or not text.strip():
        raise DataError(f"{what} must be a path, got {text!r}")
    if "\0" in text:
        raise DataError(f"{what} {text!r} contains a NUL character, which no file name can hold")
    return Path(text).expanduser()


def _probe_folder(folder: Path, what: str, target: Path) -> None:
    """:class:`DataError` unless a file can be created in ``folder`` (or, when it does not exist
    yet, in the nearest existing folder above it): read-only mounts and permissions included."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DataError(f"cannot write {what} {target}: {existing} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".galwidget-probe-")
    except OSError as error:
        raise DataError(
            f"cannot write {what} {target}: {existing} is not writable "
            f"({error.strerror or error}); choose a writable folder"
        ) from None
    os.close(handle)
    os.unlink(probe)


@dataclass(frozen=True)
class OutputFile:
    """A file galwidget is about to write, checked before anything is written, then written
    whole or not at all (a temporary file beside it, renamed over it).

    Attributes:
        path: the file (absolute).
        what: what it is, for messages (``"the page"``, ``"the catalogue"``).
    """

    path: Path
    what: str

    @classmethod
    def check(cls, path: Any, what: str, *, create_folder: bool) -> OutputFile:
        """:class:`DataError` for a path that is empty, holds a NUL, is a folder, lies in a
        missing folder (unless ``create_folder``) or in one that cannot be written."""
        target = _path_text(path, what)
        if target.is_dir():
            raise DataError(f"cannot write {what} to {target}: it is a folder; name a file in it")
        if not create_folder and not target.parent.is_dir():
            raise DataError(
                f"cannot write {what} {target}: the folder {target.parent} does not exist"
            )
        _probe_folder(target.parent, what, target)
        return cls(target.resolve(), what)

    def write(self, write: Callable[[Path], object]) -> Path:
        """Write through ``write(temporary path)``, then rename it over :attr:`path`; on any
        failure nothing is left and a :class:`DataError` names the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            write(partial)
            os.replace(partial, self.path)
        except OSError as error:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise DataError(
                f"cannot write {self.what} {self.path}: {error.strerror or error}"
            ) from None
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        return self.path


def check_output_folder(path: Any, what: str) -> Path:
    """``path`` as a folder galwidget may write files to (created later, when written):
    :class:`DataError` if it is empty, holds a NUL, is a file or cannot be written."""
    folder = _path_text(path, what)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{what} {folder} is a file, not a folder")
    _probe_folder(folder, what, folder)
    return folder.resolve()
