"""Labels out of galwidget, as the training catalogue another tool reads.

``format="zoobot"`` writes the catalogue Zoobot's fine-tuning reads (``zoobot.pytorch.training.
finetune.FinetuneableZoobotClassifier`` trained on a ``galaxy_datasets`` ``GalaxyDataModule(
label_cols=[label_column], catalog=...)``): one row per labelled galaxy, in id order, with columns

- ``id_str``: the galaxy id;
- ``file_loc``: the absolute path of the galaxy's image file: the file itself when the thumbnails
  are local files (:func:`galwidget.images.local_files`, e.g. ``png_loc`` with ``png_root=``);
  for images made in the kernel (a callable such as the synthetic renderer) a 424-pixel image
  written to ``image_dir``. URL thumbnails (survey cutouts) are refused: download them first;
- ``<label_column>`` (default ``label``): the class index ``0 … k-1`` in the order of ``classes``
  (the label store's classes by default, else the sorted labels): train with ``num_classes=k``;
- ``<label_column>_name``: the class name.

The file is CSV, or parquet when ``path`` ends in ``.parquet``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from galwidget import images as gw_images
from galwidget.data import Representations
from galwidget.errors import DataError, ImageError
from galwidget.labels._store import LabelStore
from galwidget.util import preview

__all__ = ["EXPORT_FORMATS", "export_labels"]

EXPORT_FORMATS = ("zoobot",)
"""The formats :func:`export_labels` writes (``"zoobot"``: a Zoobot fine-tuning catalogue)."""
# Size of the images written to ``image_dir``: GZ DECaLS's 424 pixels.
EXPORT_IMAGE_SIZE = 424


def export_labels(
    reps: Representations,
    labels: LabelStore | pd.Series,
    path: str | PathLike[str],
    *,
    format: str = "zoobot",
    images: gw_images.ImagesSpec = None,
    classes: Sequence[Any] | None = None,
    label_column: str = "label",
    image_dir: str | PathLike[str] | None = None,
) -> pd.DataFrame:
    """Write the labels of ``reps``'s galaxies to ``path`` as a training catalogue.

    Args:
        reps: the galaxies.
        labels: a :class:`~galwidget.LabelStore` or a Series id → label (missing labels skipped).
        path: the ``.csv`` or ``.parquet`` file to write (its folder is created); written whole
            or not at all.
        format: one of :data:`EXPORT_FORMATS` (see the module docstring for ``"zoobot"``).
        images: where the images are, as ``Explorer(images=)`` takes it; default ``reps.images``.
        classes: class names in index order (default: the store's classes, else sorted labels).
        label_column: the name of the integer label column.
        image_dir: folder to write images to (``<id>.jpg``, 424 px) when they are not local files.

    Returns:
        The catalogue written.

    Raises:
        DataError: an unknown format, no labels, labels of unknown ids or outside ``classes``,
            image files that do not exist, or images that are not local files and no
            ``image_dir``; a ``path`` or ``image_dir`` that is empty, holds a NUL, is a folder
            (``path``) or a file (``image_dir``) or cannot be written: all found before any image
            is written; a write that failed (each file is written whole or not at all).
    """
    if format not in EXPORT_FORMATS:
        raise DataError(f"unknown export format {format!r}; choose one of {EXPORT_FORMATS}")
    series = _labels(labels)
    if series.empty:
        raise DataError("there are no labels to export")
    positions = reps.id_lookup.locate(series.index)
    if (positions < 0).any():
        raise DataError(f"labels of unknown ids: {preview(list(series.index[positions < 0]))}")
    if classes is None:
        classes = getattr(labels, "classes", None) or sorted(series.unique(), key=str)
    classes = list(classes)
    outside = sorted({v for v in series if v not in classes}, key=str)
    if outside:
        raise DataError(f"labels outside the classes {preview(classes)}: {preview(outside)}")
    # Both targets are checked before any image is written.
    target = gw_images.OutputFile.check(path, "the catalogue", create_folder=True)
    folder = None if image_dir is None else gw_images.check_output_folder(image_dir, "image_dir")
    order = np.argsort(positions, kind="stable")
    positions, series = positions[order], series.iloc[order]
    catalogue = pd.DataFrame(
        {
            "id_str": reps.ids[positions].astype(str),
            "file_loc": _file_locations(reps, positions, images, folder),
            label_column: [classes.index(v) for v in series],
            f"{label_column}_name": [str(v) for v in series],
        }
    )
    if target.path.suffix.lower() == ".parquet":
        target.write(lambda partial: catalogue.to_parquet(partial, index=False))
    else:
        target.write(lambda partial: catalogue.to_csv(partial, index=False))
    return catalogue


def _labels(labels: LabelStore | pd.Series) -> pd.Series:
    if hasattr(labels, "series") and callable(labels.series):  # a LabelStore
        labels = labels.series()
    if not isinstance(labels, pd.Series):
        raise DataError(
            f"labels must be a LabelStore or a Series id → label, got {type(labels).__name__}"
        )
    return labels[labels.notna()]


def _file_locations(
    reps: Representations,
    positions: np.ndarray,
    images: gw_images.ImagesSpec,
    folder: Path | None,
) -> list[str]:
    spec = reps.images if images is None else images
    if isinstance(spec, gw_images.LocalFiles) and folder is None:
        paths = _local_paths(spec, reps, positions)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise DataError(
                f"{len(missing)} labelled galaxies have no image file, e.g. {preview(missing)}"
            )
        return [str(p) for p in paths]
    source = gw_images.resolve(spec, reps, size=EXPORT_IMAGE_SIZE)
    if folder is None or source.kind != "bytes":
        what = {"url": "URLs", "none": "no images", "bytes": "images made in the kernel"}
        hint = " pass image_dir= to write them as files" if source.kind == "bytes" else ""
        raise DataError(
            f"Zoobot trains on local image files, but these thumbnails are "
            f"{what[source.kind]};{hint or ' download them and pass images=gw.images.local_files(...)'}"
        )
    written = []
    for position in positions:
        galaxy = str(reps.ids[position])
        try:
            data, mime = source.fetch(int(position))
        except ImageError as error:
            raise DataError(f"cannot make the image of {galaxy!r}: {error}") from error
        name = f"{quote(galaxy, safe='+-._')}.{mime.split('/')[-1].replace('jpeg', 'jpg')}"
        image = gw_images.OutputFile(folder / name, f"the image of {galaxy!r}")
        written.append(str(image.write(partial_writer(data))))
    return written


def partial_writer(data: bytes) -> Callable[[Path], int]:
    """Writes ``data`` to the path it is given."""
    return lambda partial: partial.write_bytes(data)


def _local_paths(
    spec: gw_images.LocalFiles, reps: Representations, positions: np.ndarray
) -> list[Path]:
    """The image files ``spec`` reads for the galaxies at ``positions``, found exactly as the
    thumbnails find them (:meth:`galwidget.images.LocalFiles.path_of`)."""
    path_of = spec.path_of(reps)
    paths = []
    for position in positions:
        try:
            paths.append(path_of(int(position))[0])
        except ImageError as error:
            raise DataError(f"galaxy {reps.ids[position]!r}: {error.reason}") from None
    return paths
