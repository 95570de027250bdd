"""Labels: the store (undo/redo, teammates' labels), its records, the crash-safe JSONL log and the
SQL backends, label codes, and exports (a Zoobot fine-tuning catalogue)."""

from galwidget.labels._export import EXPORT_FORMATS, export_labels
from galwidget.labels._records import Label, LabelStorageError
from galwidget.labels._store import (
    MAX_CLASSES,
    OTHER_LABEL,
    UNLABELLED,
    Classes,
    LabelStore,
    check_labels_location,
    check_user,
    class_names,
    default_user,
    find_log,
)

__all__ = [
    "EXPORT_FORMATS",
    "MAX_CLASSES",
    "OTHER_LABEL",
    "UNLABELLED",
    "Classes",
    "Label",
    "LabelStorageError",
    "LabelStore",
    "check_labels_location",
    "check_user",
    "class_names",
    "default_user",
    "export_labels",
    "find_log",
]
