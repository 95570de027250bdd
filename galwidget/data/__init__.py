"""Representations in, validated: the container, its loaders (in memory, streamed in two passes,
on Dask, or from HATS catalogues, which :func:`to_hats` writes) and the one fitted PCA that
neighbors, layouts and the learner share.

Invariants of loaded data: features are finite and at most :data:`MAX_ABS_FEATURE` in magnitude
(other rows are refused or, with ``on_invalid="drop"``, dropped); ids are the source's text
exactly and valid Unicode. Anything else is a :class:`~galwidget.DataError` naming the file,
column, rows and values.
"""

from galwidget.data._files import check_file_kind
from galwidget.data._hats import to_hats
from galwidget.data._ids import IdLookup
from galwidget.data._load import load_reduced, load_representations
from galwidget.data._reduction import cached_pca_embedding, leading_columns, load_or_fit_pca
from galwidget.data._representations import Representations
from galwidget.data._schema import FeatureSpec, find_feature_columns, find_id_column
from galwidget.data._streaming import FeatureSchema, Part, RawSource
from galwidget.data._validate import MAX_ABS_FEATURE, OnInvalid

__all__ = [
    "MAX_ABS_FEATURE",
    "FeatureSchema",
    "FeatureSpec",
    "IdLookup",
    "OnInvalid",
    "Part",
    "RawSource",
    "Representations",
    "cached_pca_embedding",
    "check_file_kind",
    "find_feature_columns",
    "find_id_column",
    "leading_columns",
    "load_or_fit_pca",
    "load_reduced",
    "load_representations",
    "to_hats",
]
