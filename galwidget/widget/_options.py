"""The Explorer's grouped options: ``index=`` (a NeighborIndex or its options) and ``labels=``
(a LabelStore or its options), the index built on first need, and the keyword arguments of
galwidget 0.1 that still work this release with a DeprecationWarning saying what to write."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TypedDict, cast

from galwidget.data import Representations
from galwidget.errors import DataError
from galwidget.labels import LabelStore
from galwidget.neighbors import NeighborIndex
from galwidget.util import warn_deprecated

__all__ = ["IndexOptions", "LabelOptions", "LazyIndex", "check_label_options", "take_deprecated"]

# The Explorer's default: neighbors in a 40-component PCA space (the features themselves when
# they have no more dimensions than that).
DEFAULT_COMPONENTS = 40
INDEX_OPTIONS = tuple(
    name for name in inspect.signature(NeighborIndex).parameters if name not in {"reps", "progress"}
)
LABEL_OPTIONS = ("path", "user")


class IndexOptions(TypedDict, total=False):
    """Options of the NeighborIndex an Explorer builds (see :class:`galwidget.NeighborIndex`)."""

    n_components: int | None
    metric: str
    backend: str
    cache_dir: str
    rerank: str | None


class LabelOptions(TypedDict, total=False):
    """Where an Explorer keeps its labels and who makes them (see :class:`galwidget.LabelStore`).

    ``path``: a log file or a database URL (default: the data's log in the labels folder);
    ``user``: recorded with every label (default ``$JUPYTERHUB_USER`` or the login name)."""

    path: str
    user: str


class LazyIndex:
    """The Explorer's NeighborIndex: the one given, or built from options on first need (once,
    whichever thread asks first); ``False`` for none (every use raises :class:`DataError`).

    With ``layout_only`` (the features are the map's coordinates), a given index may be built on
    other representations of the same galaxies: the same ids in the same order."""

    def __init__(
        self,
        reps: Representations,
        index: NeighborIndex | IndexOptions | Literal[False] | None,
        *,
        layout_only: bool = False,
    ) -> None:
        self._reps = reps
        self._lock = threading.Lock()
        self._index: NeighborIndex | None = None
        self._disabled = index is False
        self._options: dict[str, Any] = {}
        if isinstance(index, NeighborIndex):
            if (
                index.reps is not reps
                and index.reps.fingerprint != reps.fingerprint
                and not (layout_only and index.reps.ids.equals(reps.ids))
            ):
                raise DataError(
                    "index= was built on other galaxies than the Explorer's data: its ids "
                    f"({len(index.reps):,}) differ from the Explorer's ({len(reps):,})"
                )
            self._index = index
        elif index is None or isinstance(index, Mapping):
            self._options = _check_keys(dict(index or {}), INDEX_OPTIONS, "index")
            components = self._options.setdefault("n_components", DEFAULT_COMPONENTS)
            if components is not None and components >= reps.n_features:
                self._options["n_components"] = None  # search the features themselves
        elif index is not False:
            raise DataError(
                f"index= takes a galwidget.NeighborIndex, a dict of its options or False, "
                f"got {type(index).__name__}"
            )

    def reusable(self) -> NeighborIndex | None:
        """The index for computations that may reuse one (layouts): ``None`` when there is none."""
        return None if self._disabled else self.get()

    def get(self) -> NeighborIndex:
        """The index, built now if it was not yet."""
        if self._disabled:
            raise DataError(
                "neighbors are off: this map was made from a layout alone; give "
                "index=gw.NeighborIndex(reps) built on these galaxies' representations (the same "
                "ids in the same order) to see them"
            )
        with self._lock:
            if self._index is None:
                self._index = NeighborIndex(self._reps, **self._options)
            return self._index


def check_label_options(
    labels: LabelStore | LabelOptions | None,
) -> LabelStore | LabelOptions | None:
    """``labels=`` checked: a LabelStore, a dict of :class:`LabelOptions`, or ``None``."""
    if labels is None or isinstance(labels, LabelStore):
        return labels
    if isinstance(labels, Mapping):
        return cast(LabelOptions, _check_keys(dict(labels), LABEL_OPTIONS, "labels"))
    raise DataError(
        f"labels= takes a galwidget.LabelStore or a dict with 'path' and/or 'user', "
        f"got {type(labels).__name__}"
    )


def take_deprecated(
    kwargs: MutableMapping[str, Any],
    index: NeighborIndex | IndexOptions | Literal[False] | None,
    labels: LabelStore | LabelOptions | None,
) -> tuple[NeighborIndex | IndexOptions | Literal[False] | None, LabelStore | LabelOptions | None]:
    """Move galwidget 0.1's ``n_components``/``metric`` into ``index`` and ``labels_path``/``user``
    into ``labels`` (removing them from ``kwargs``), each with a DeprecationWarning."""
    moved_index = {name: kwargs.pop(name) for name in ("n_components", "metric") if name in kwargs}
    if moved_index:
        if index is not None and not isinstance(index, Mapping):
            raise DataError(f"give {', '.join(moved_index)} through index= only")
        suggestion = ", ".join(f"{name!r}: {value!r}" for name, value in moved_index.items())
        warn_deprecated(
            f"Explorer({', '.join(f'{name}=…' for name in moved_index)})",
            f"Explorer(..., index={{{suggestion}}})",
            stacklevel=4,
        )
        index = cast(IndexOptions, {**moved_index, **(index or {})})
    renamed = {"labels_path": "path", "user": "user"}
    moved_labels = {renamed[name]: kwargs.pop(name) for name in renamed if name in kwargs}
    moved_labels = {name: value for name, value in moved_labels.items() if value is not None}
    if moved_labels:
        if labels is not None and not isinstance(labels, Mapping):
            raise DataError("give labels_path and user through labels= only")
        suggestion = ", ".join(f"{name!r}: {value!r}" for name, value in moved_labels.items())
        old = ", ".join(
            f"{name}=…" for name in ("labels_path", "user") if renamed[name] in moved_labels
        )
        warn_deprecated(f"Explorer({old})", f"Explorer(..., labels={{{suggestion}}})", stacklevel=4)
        labels = cast(LabelOptions, {**moved_labels, **(labels or {})})
    return index, labels


def _check_keys(options: dict[str, Any], allowed: tuple[str, ...], name: str) -> dict[str, Any]:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DataError(
            f"unknown {name}= option(s) {', '.join(map(repr, unknown))}; "
            f"the options are {', '.join(map(repr, allowed))}"
        )
    return options
