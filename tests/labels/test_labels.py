"""The crash-safe label store (galwidget.labels)."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import galwidget as gw
from galwidget.labels import default_user, find_log

IDS = pd.Index([f"J{i:06d}" for i in range(100)], name="iauname")
CLASSES = ["ring", "spiral", "smooth"]


def make_store(path: Path, **kwargs) -> gw.LabelStore:
    options = {"fingerprint": "f00d", "ids": IDS, "classes": CLASSES, **kwargs}
    return gw.LabelStore(path, **options)


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_set_remove_get_and_frames(tmp_path):
    store = make_store(tmp_path / "labels.jsonl")
    assert store.set(["J000001", "J000002", "J000001"], "ring") == ["J000001", "J000002"]
    store.set("J000003", "spiral", source="key")
    assert store.get("J000001") == "ring"
    assert store.get("J000050") is None
    assert len(store) == 3
    assert "J000003" in store

    labels = store.labels
    assert labels.index.name == "iauname"
    assert list(labels.columns) == ["label", "time", "source", "user"]
    assert labels["user"].unique().tolist() == [default_user()]
    assert labels.loc["J000003", "source"] == "key"
    assert labels.loc["J000001", "source"] == "python"
    assert str(labels["time"].dt.tz) == "UTC"
    assert store.series().to_dict() == {"J000001": "ring", "J000002": "ring", "J000003": "spiral"}
    assert store.counts().to_dict() == {"ring": 2, "spiral": 1, "smooth": 0}

    assert store.remove(["J000002", "J000099"]) == ["J000002"]  # J000099 had no label
    assert store.get("J000002") is None
    assert len(store) == 2
    assert store.set("J000001", "ring") == []  # unchanged: nothing written


def test_undo_and_redo_whole_operations(tmp_path):
    store = make_store(tmp_path / "labels.jsonl")
    assert store.undo() == [] and not store.can_undo
    store.set([f"J{i:06d}" for i in range(10)], "smooth", source="bulk")
    store.set("J000003", "ring", source="key")  # relabel inside the bulk selection

    assert store.undo() == ["J000003"]
    assert store.get("J000003") == "smooth"  # the previous label is back, not removed
    assert sorted(store.undo()) == [f"J{i:06d}" for i in range(10)]  # the bulk op at once
    assert len(store) == 0 and not store.can_undo

    assert len(store.redo()) == 10
    assert store.redo() == ["J000003"]
    assert store.get("J000003") == "ring" and len(store) == 10
    assert store.labels.loc["J000003", "source"] == "redo"

    store.undo()
    assert store.can_redo
    store.set("J000020", "spiral")  # a new change clears the redo stack
    assert not store.can_redo and store.redo() == []


def test_new_store_restores_labels_and_undo_history(tmp_path):
    path = tmp_path / "labels.jsonl"
    first = make_store(path)
    first.set(["J000001", "J000002"], "ring", source="bulk")
    first.set("J000003", "spiral", source="key")
    first.undo()
    del first

    again = make_store(path)
    assert again.series().to_dict() == {"J000001": "ring", "J000002": "ring"}
    assert again.can_redo
    assert again.redo() == ["J000003"]
    assert sorted(again.undo()) == ["J000003"]
    assert sorted(again.undo()) == ["J000001", "J000002"]
    assert len(again) == 0


@pytest.mark.parametrize("tail", [b'{"op": "abc", "id": "J0000', b'{"op": "abc", "id": "J\n'])
def test_corrupt_last_line_is_skipped_and_repaired(tmp_path, tail):
    path = tmp_path / "labels.jsonl"
    store = make_store(path)
    store.set(["J000001", "J000002"], "ring")
    with open(path, "ab") as log:  # a crash in the middle of writing the next record
        log.write(tail)

    with pytest.warns(UserWarning, match=r"incomplete.*earlier labels are intact"):
        reopened = make_store(path)
    assert reopened.series().to_dict() == {"J000001": "ring", "J000002": "ring"}
    (backup,) = tmp_path.glob("labels.jsonl.corrupt-*")
    assert backup.read_bytes() == tail  # the torn bytes are kept

    reopened.set("J000004", "smooth")
    records = log_lines(path)  # every line parses: the append started on a fresh line
    assert [r["id"] for r in records[1:]] == ["J000001", "J000002", "J000004"]
    assert make_store(path).series().to_dict() == {
        "J000001": "ring",
        "J000002": "ring",
        "J000004": "smooth",
    }


def test_a_corrupt_middle_line_is_reported_and_the_rest_is_read(tmp_path):
    path = tmp_path / "labels.jsonl"
    store = make_store(path)
    for i in range(3):
        store.set(f"J00000{i}", "ring")
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2][:20] + "\n"
    path.write_text("".join(lines))
    with pytest.warns(
        UserWarning, match=r"1 label record\(s\) .* skipped.*line 3 of the label log.*not JSON"
    ):
        reopened = make_store(path)
    assert reopened.series().to_dict() == {"J000000": "ring", "J000002": "ring"}
    assert len(reopened.unreadable) == 1 and "line 3" in reopened.unreadable[0]
    reopened.set("J000003", "smooth")  # the log stays writable, and the bad line stays
    assert path.read_text().startswith("".join(lines))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert reopened.series().to_dict() == {
            "J000000": "ring",
            "J000002": "ring",
            "J000003": "smooth",
        }
    assert caught == []  # reported once per store, not on every read


def test_fingerprint_mismatch_and_escape_hatches(tmp_path):
    path = tmp_path / "labels.jsonl"
    make_store(path).set(["J000001", "J000002"], "ring")

    with pytest.raises(gw.DataError, match=r"fingerprint f00d.*beef.*check_fingerprint=False"):
        make_store(path, fingerprint="beef")
    anyway = make_store(path, fingerprint="beef", check_fingerprint=False)
    assert len(anyway) == 2

    other = make_store(tmp_path / "other.jsonl", fingerprint="beef")
    assert sorted(other.import_labels(path)) == ["J000001", "J000002"]
    assert other.labels["source"].unique().tolist() == ["import"]


def test_unknown_ids_and_classes_write_nothing(tmp_path):
    path = tmp_path / "labels.jsonl"
    store = make_store(path)
    size = path.stat().st_size
    with pytest.raises(gw.DataError, match="unknown iauname ids: 'nope', 'J999'"):
        store.set(["J000001", "nope", "J999"], "ring")
    with pytest.raises(gw.DataError, match=r"unknown class 'bar'.*ring, spiral, smooth"):
        store.set("J000001", "bar")
    with pytest.raises(gw.DataError, match="source must be one of"):
        store.set("J000001", "ring", source="mouse")
    assert path.stat().st_size == size and len(store) == 0


def test_classes_and_key_map():
    assert gw.LabelStore(fingerprint="a", classes=["ring", "bar"]).key_map == {
        "1": "ring",
        "2": "bar",
    }
    store = gw.LabelStore(fingerprint="b", classes={"ring": "r", "bar": "b"})
    assert store.classes == ["ring", "bar"] and store.key_map == {"r": "ring", "b": "bar"}
    assert store.set("x", "ring") == ["x"]  # without ids any id is accepted
    with pytest.raises(gw.DataError, match="key 'r' is used by both"):
        gw.LabelStore(fingerprint="c", classes={"ring": "r", "rare": "r"})
    numeric = gw.LabelStore(fingerprint="d")  # no classes: numbers and strings
    numeric.set(["a", "b"], 5)
    numeric.set("c", np.float32(2.5))
    assert numeric.series().to_dict() == {"a": 5, "b": 5, "c": 2.5}
    with pytest.raises(gw.DataError, match="finite"):
        numeric.set("d", float("nan"))


def test_default_path_is_labels_dir_or_cwd(tmp_path, monkeypatch):
    reps = gw.Representations.from_array(np.eye(4, dtype=np.float32))
    store = gw.LabelStore.for_data(reps)
    expected = Path(os.environ["GALWIDGET_LABELS_DIR"]) / f"{reps.fingerprint}.jsonl"
    assert store.path == expected and expected.exists()
    assert store.header["fingerprint"] == reps.fingerprint
    assert store.header["id_column"] == reps.id_column

    monkeypatch.delenv("GALWIDGET_LABELS_DIR")
    monkeypatch.chdir(tmp_path)
    store = gw.LabelStore.for_data(reps)
    assert store.path.resolve() == (tmp_path / "galwidget-labels" / f"{reps.fingerprint}.jsonl")
    with pytest.raises(gw.DataError, match=f"unknown {reps.id_column} ids: 'x'"):
        store.set("x", "ring")


def test_on_change_runs_after_the_change_is_on_disk(tmp_path):
    path = tmp_path / "labels.jsonl"
    store = make_store(path)
    seen = []
    store.on_change(lambda ids: seen.append((ids, [r["id"] for r in log_lines(path)[1:]])))
    store.set(["J000001", "J000002"], "ring")
    store.undo()
    assert seen[0] == (["J000001", "J000002"], ["J000001", "J000002"])
    assert sorted(seen[1][0]) == ["J000001", "J000002"] and len(seen[1][1]) == 4


def test_fsync_before_returning(tmp_path, monkeypatch):
    path = tmp_path / "labels.jsonl"
    store = make_store(path)
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        real_fsync(fd)
        if Path(os.readlink(f"/proc/self/fd/{fd}")) == path:
            synced.append(path.read_text().count("J000007"))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    store.set("J000007", "ring")
    assert synced == [1]  # the record was written, then fsync'd, before set returned


def test_two_stores_in_one_process_share_the_log(tmp_path):
    path = tmp_path / "labels.jsonl"
    a, b = make_store(path), make_store(path)
    external = []
    b.on_change(external.append)
    a.set(["J000001", "J000002"], "ring")
    assert b.get("J000001") == "ring" and external == [["J000001", "J000002"]]
    b.set("J000003", "smooth")
    assert len(a) == 3
    assert sorted(b.undo()) == ["J000003"]  # undo follows the log's history
    assert sorted(b.undo()) == ["J000001", "J000002"]  # ...whichever store wrote it
    assert len(a) == 0


def _label_many(path: str, worker: int, n: int, start: multiprocessing.Barrier) -> None:
    store = gw.LabelStore(path, fingerprint="f00d")
    start.wait(timeout=60)
    for i in range(n):
        store.set(f"w{worker}-{i}", "ring" if i % 2 else "smooth", source="key")
        if i % 25 == 0:
            store.set([f"w{worker}-bulk{i}-{j}" for j in range(40)], "spiral", source="bulk")


@pytest.mark.slow
def test_two_processes_append_concurrently(tmp_path):
    path = tmp_path / "labels.jsonl"
    watcher = gw.LabelStore(path, fingerprint="f00d")
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    workers = [
        context.Process(target=_label_many, args=(str(path), w, 150, start)) for w in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0

    records = log_lines(path)  # every line is complete JSON
    assert len(records) == 1 + 2 * (150 + 6 * 40)
    writers = [r["id"][:2] for r in records[1:]]
    switches = sum(a != b for a, b in itertools.pairwise(writers))
    assert switches > 2  # the two processes really wrote at the same time
    expected = {f"w{w}-{i}" for w in range(2) for i in range(150)}
    expected |= {
        f"w{w}-bulk{i}-{j}" for w in range(2) for i in range(0, 150, 25) for j in range(40)
    }
    assert set(watcher.series().index) == expected  # picked up by refresh
    assert set(gw.LabelStore(path, fingerprint="f00d").series().index) == expected


def _label_until_killed(path: str, acknowledged: str) -> None:
    store = gw.LabelStore(path, fingerprint="f00d")
    with open(acknowledged, "a") as out:
        for i in range(100_000):
            store.set([f"k{i}", f"k{i}-b"], "ring", source="key")
            out.write(f"k{i}\n")  # set() returned: the UI would now show "saved"
            out.flush()


@pytest.mark.slow
def test_kill_9_loses_no_saved_label(tmp_path):
    path, acknowledged = tmp_path / "labels.jsonl", tmp_path / "saved.txt"
    acknowledged.touch()
    context = multiprocessing.get_context("spawn")
    worker = context.Process(target=_label_until_killed, args=(str(path), str(acknowledged)))
    worker.start()
    deadline = time.monotonic() + 120
    while len(acknowledged.read_text().splitlines()) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    assert worker.exitcode == -signal.SIGKILL
    saved = acknowledged.read_text().splitlines()
    assert len(saved) >= 100
    with warnings.catch_warnings():  # a torn last line is allowed, and repaired
        warnings.simplefilter("ignore")
        store = gw.LabelStore(path, fingerprint="f00d")
    assert set(saved) <= set(store.series().index)
    store.set("after", "ring")
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_import_and_export_round_trip(tmp_path):
    store = make_store(tmp_path / "labels.jsonl")
    store.set(["J000001", "J000002"], "ring")
    store.set("J000010", "spiral")
    for path in (store.to_csv(tmp_path / "labels.csv"), store.to_parquet(tmp_path / "l.parquet")):
        copy = make_store(tmp_path / f"{path.name}.jsonl")
        assert sorted(copy.import_labels(path)) == ["J000001", "J000002", "J000010"]
        pd.testing.assert_series_equal(copy.series(), store.series())

    scores = gw.LabelStore(tmp_path / "scores.jsonl", fingerprint="f00d", ids=IDS)
    scores.set(["J000001", "J000002"], 5)
    scores.set("J000003", 2.5)
    copy = gw.LabelStore(tmp_path / "scores2.jsonl", fingerprint="f00d", ids=IDS)
    copy.import_labels(scores.to_csv(tmp_path / "scores.csv"))
    assert copy.series().to_dict() == {"J000001": 5, "J000002": 5, "J000003": 2.5}


def test_import_validates_everything_before_applying(tmp_path):
    store = make_store(tmp_path / "labels.jsonl")
    frame = pd.DataFrame({"iauname": ["J000001", "J000002", "J000003"]})
    frame["label"] = ["ring", np.nan, "smooth"]
    assert store.import_labels(frame) == ["J000001", "J000003"]  # NaN skipped
    assert store.undo() == ["J000003", "J000001"]  # one operation

    bad = pd.DataFrame({"name": ["J000001", "ghost"], "class": ["ring", "ring"]})
    with pytest.raises(gw.DataError, match="unknown iauname ids: 'ghost'"):
        store.import_labels(bad, id_column="name", label_column="class")
    twice = pd.DataFrame({"id": ["J000001", "J000001"], "label": ["ring", "smooth"]})
    with pytest.raises(gw.DataError, match=r"two different labels.*J000001"):
        store.import_labels(twice)
    with pytest.raises(gw.DataError, match="no label column 'label'"):
        store.import_labels(bad, id_column="name")
    assert len(store) == 0


# ----------------------------------------------------------------------------------------------
# Never modify what is not a galwidget log; read-only logs; failing writes; bad records
# ----------------------------------------------------------------------------------------------

NOT_LOGS = [
    b'{"id": "J000001", "label": "ring"}',  # a one-line JSON-lines table, no newline
    b'{"id": "J000001", "label": "ring"}\n{"id": "J000002", "label": "bar"}\n',
    b"iauname,label\nJ000001,ring\n",
    b"hello",
    b"\x89PNG\r\n\x1a\n\x00\x00",
]


@pytest.mark.parametrize("content", NOT_LOGS)
def test_a_file_that_is_not_a_log_is_refused_and_left_untouched(tmp_path, content):
    path = tmp_path / "notes.jsonl"
    path.write_bytes(content)
    with pytest.raises(gw.DataError, match=r"is not a galwidget label log.*left untouched"):
        make_store(path)
    assert path.read_bytes() == content
    assert list(tmp_path.iterdir()) == [path]  # no .corrupt-* copy either


def test_a_folder_or_a_fifo_is_not_a_log(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    for path in (tmp_path, fifo):
        with pytest.raises(gw.DataError, match="is not a regular file"):
            make_store(path)


def test_importing_a_jsonl_table_or_log_only_reads_it(tmp_path):
    store = make_store(tmp_path / "labels.jsonl")
    table = tmp_path / "one.jsonl"
    table.write_bytes(b'{"iauname": "J000001", "label": "ring"}')  # one line, no newline
    assert store.import_labels(table) == ["J000001"]
    assert table.read_bytes() == b'{"iauname": "J000001", "label": "ring"}'

    other = make_store(tmp_path / "other.jsonl")
    other.set("J000002", "smooth")
    with open(other.path, "ab") as log:  # a torn last line: importing must not repair it
        log.write(b'{"op": "x", "id": "J0')
    before = other.path.read_bytes()
    with pytest.warns(UserWarning, match=r"read-only label log.*incomplete"):
        assert store.import_labels(other.path) == ["J000002"]
    assert other.path.read_bytes() == before
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n")
    with pytest.raises(gw.DataError, match="neither a galwidget label log nor a JSON-lines"):
        store.import_labels(broken)


def test_a_read_only_log_opens_reads_and_refuses_changes(read_only_folder):
    folder, make_read_only = read_only_folder
    writer = make_store(folder / "labels.jsonl")
    writer.set(["J000001", "J000002"], "ring")
    writer.undo()
    writer.set("J000003", "smooth")
    view = make_read_only()
    store = make_store(view / "labels.jsonl")
    assert store.read_only and not writer.read_only
    assert store.series().to_dict() == {"J000003": "smooth"} and store.can_redo is False
    with pytest.raises(gw.LabelStorageError, match="read-only: nothing was saved"):
        store.set("J000004", "ring")
    with pytest.raises(gw.LabelStorageError, match="read-only"):
        store.undo()
    assert make_store(view / "labels.jsonl", read_only=True).get("J000003") == "smooth"
    with pytest.raises(gw.LabelStorageError, match="cannot create the label log"):
        make_store(view / "new.jsonl")


def _write_past_the_size_limit(path: str, results: multiprocessing.Queue) -> None:
    """Label under RLIMIT_FSIZE (SIGXFSZ ignored, so writes fail with EFBIG)."""
    import resource

    store = gw.LabelStore(path, fingerprint="f00d", ids=IDS, classes=CLASSES)
    store.set("J000001", "ring")
    size = os.path.getsize(path)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 500, size + 500))
    try:
        store.set(IDS[10:60], "spiral", source="bulk")  # ~6 kB: cut off part way
    except gw.LabelStorageError as error:
        results.put(("error", str(error)))
    results.put(("after", store.series().to_dict(), os.path.getsize(path), store.can_undo))
    store.set("J000002", "smooth")  # a small change still fits
    results.put(("small", store.series().to_dict()))


@pytest.mark.slow
def test_a_write_past_the_file_size_limit_is_not_acknowledged(tmp_path):
    path = tmp_path / "labels.jsonl"
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    worker = context.Process(target=_write_past_the_size_limit, args=(str(path), results))
    worker.start()
    outcomes = [results.get(timeout=120) for _ in range(3)]
    worker.join(timeout=60)
    assert worker.exitcode == 0
    (_, message), (_, after, size_after, can_undo), (_, small) = outcomes
    assert "NOT saved" in message and "File too large" in message
    assert after == {"J000001": "ring"} and can_undo
    lines = path.read_text().splitlines()
    assert size_after == len("\n".join(lines[:2])) + 1  # the partial write was cut off
    assert small == {"J000001": "ring", "J000002": "smooth"}
    assert make_store(path).series().to_dict() == small  # memory and log agree


def test_a_write_on_a_full_disk_is_not_acknowledged(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", small]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        path = small / "labels.jsonl"
        store = make_store(path)
        store.set("J000001", "ring")
        (small / "filler").write_bytes(b"x" * 6 * 4096)  # one free page left
        size = path.stat().st_size
        with pytest.raises(gw.LabelStorageError, match=r"NOT saved.*No space left"):
            store.set(IDS[10:90], "spiral", source="bulk")
        assert path.stat().st_size == size  # the partial write was cut off
        assert store.series().to_dict() == {"J000001": "ring"} and store.undo() == ["J000001"]
        assert make_store(path).series().to_dict() == {}
    finally:
        subprocess.run(["umount", small], check=True)


def test_a_truncated_or_replaced_log_is_noticed_and_read_again(tmp_path):
    path = tmp_path / "labels.jsonl"
    store = make_store(path)
    store.set("J000001", "ring")
    store.set("J000002", "ring")
    lines = path.read_bytes().splitlines(keepends=True)
    with open(path, "r+b") as log:  # truncated, then as long as before again
        log.truncate(len(b"".join(lines[:2])))
        log.seek(0, os.SEEK_END)
        log.write(lines[2].replace(b"J000002", b"J000007"))
    with pytest.warns(UserWarning, match=r"truncated or replaced.*read again from the start"):
        assert sorted(store.refresh()) == ["J000001", "J000002", "J000007"]
    assert store.series().to_dict() == {"J000001": "ring", "J000007": "ring"}

    replacement = tmp_path / "other.jsonl"
    make_store(replacement).set("J000005", "smooth")
    os.replace(replacement, path)
    with pytest.warns(UserWarning, match="truncated or replaced"):
        assert store.series().to_dict() == {"J000005": "smooth"}


BAD_RECORDS = [
    ({"op": "b", "id": "J999999", "label": "ring"}, "'J999999' is not an id of this data"),
    ({"op": "b", "id": "J000002", "label": [1]}, "label must be a string, a finite number"),
    ({"op": "b", "id": "J000002", "source": "mouse"}, "source must be one of"),
    ({"op": "b", "id": "J000002", "time": "yesterday"}, "is not an ISO date"),
    ({"op": "b", "id": "J000002", "label": "\ud800"}, "label contains a lone surrogate"),
    ({"op": "b", "id": "J000002", "undoes": "nope"}, "undoes or redoes an unknown operation"),
    ({"op": 3, "id": "J000002"}, "op must be a non-empty string"),
    ({"op": "b", "prev": None}, "not a label record: no id"),
]


@pytest.mark.parametrize(("change", "problem"), BAD_RECORDS)
def test_a_bad_record_is_reported_naming_the_log_and_line_and_skipped(tmp_path, change, problem):
    path = tmp_path / "labels.jsonl"
    make_store(path).set("J000001", "ring")
    record = {"op": "a", "id": "J000001", "label": "ring", "prev": None, "time": "2026-01-01"}
    record = {**record, "source": "key", **change}
    if "id" not in change:
        del record["id"]
    with open(path, "a") as log:
        log.write(json.dumps(record) + "\n")
    make_store(path).set("J000005", "smooth")  # written after the bad record
    before = path.read_bytes()
    with pytest.warns(UserWarning, match=f"line 3 of the label log {path}: .*{problem}"):
        store = make_store(path)
    assert store.series().to_dict() == {"J000001": "ring", "J000005": "smooth"}
    assert path.read_bytes() == before


def test_lone_surrogates_and_too_many_classes_are_clear_errors(tmp_path):
    store = gw.LabelStore(tmp_path / "labels.jsonl", fingerprint="f00d")
    with pytest.raises(gw.DataError, match="label '\\\\ud800x' contains a lone surrogate"):
        store.set("J000001", "\ud800x")
    with pytest.raises(gw.DataError, match="id 'J\\\\udc00' contains a lone surrogate"):
        store.set("J\udc00", "ring")
    with pytest.raises(gw.DataError, match="contains a lone surrogate"):
        store.import_labels(pd.Series(["a\udfffb"], index=["J000001"], dtype=object))
    assert len(store) == 0
    with pytest.raises(gw.DataError, match="300 classes: at most 254"):
        gw.LabelStore(tmp_path / "many.jsonl", classes=[f"c{i}" for i in range(300)])
    assert len(gw.LabelStore(tmp_path / "254.jsonl", classes=range(254)).classes) == 254


def test_a_log_under_the_legacy_fingerprint_is_adopted(tmp_path):
    reps = gw.Representations.from_array(np.eye(4, dtype=np.float32))
    labels_dir = Path(os.environ["GALWIDGET_LABELS_DIR"])
    old = labels_dir / f"{reps.legacy_fingerprint}.jsonl"  # as galwidget 0.1 named it
    gw.LabelStore(old, reps.legacy_fingerprint, reps.ids).set(reps.ids[:2], "ring")
    assert reps.legacy_fingerprint != reps.fingerprint and find_log(reps) == old

    store = gw.LabelStore.for_data(reps, classes=CLASSES)
    assert store.path == labels_dir / f"{reps.fingerprint}.jsonl" and not old.exists()
    assert store.series().to_dict() == {reps.ids[0]: "ring", reps.ids[1]: "ring"}
    store.set(reps.ids[2], "smooth")
    assert find_log(reps) == store.path
    assert len(gw.LabelStore.for_data(reps)) == 3 and gw.LabelStore.for_data(reps).can_undo
    with pytest.raises(gw.DataError, match="written for different data"):
        gw.LabelStore(store.path, "beef")  # other data is still refused


def test_a_legacy_log_in_a_read_only_folder_is_read_in_place(read_only_folder, monkeypatch):
    reps = gw.Representations.from_array(np.eye(4, dtype=np.float32))
    folder, make_read_only = read_only_folder
    gw.LabelStore(folder / f"{reps.legacy_fingerprint}.jsonl", reps.legacy_fingerprint).set(
        reps.ids[0], "ring"
    )
    view = make_read_only()
    monkeypatch.setenv("GALWIDGET_LABELS_DIR", str(view))
    store = gw.LabelStore.for_data(reps)
    assert store.path == view / f"{reps.legacy_fingerprint}.jsonl" and store.read_only
    assert store.series().to_dict() == {reps.ids[0]: "ring"}


def test_importing_a_bad_file_is_an_error_naming_it(tmp_path):
    store = make_store(tmp_path / "labels.jsonl")
    good = store.to_parquet(tmp_path / "good.parquet")
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-10])
    page = tmp_path / "page.csv"
    page.write_text("<!DOCTYPE html><html><body>Sign in</body></html>")
    cases = {
        tmp_path / "nul\0.csv": "no such file",
        tmp_path / "missing.csv": "no such file",
        tmp_path / "notes.txt": "expected .csv, .parquet or .jsonl",
        cut: "cut.parquet is truncated",
        page: "page.csv is an HTML page",
    }
    (tmp_path / "notes.txt").write_text("J000001 ring\n")
    for path, problem in cases.items():
        with pytest.raises(gw.DataError, match=problem):
            store.import_labels(path)
    assert len(store) == 0


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.lists(st.sampled_from(list(IDS[:8])), min_size=1, max_size=4)),
        st.tuples(
            st.just("remove"), st.lists(st.sampled_from(list(IDS[:8])), min_size=1, max_size=3)
        ),
        st.tuples(st.sampled_from(["undo", "redo"]), st.just([])),
    ),
    max_size=25,
)


@settings(max_examples=25, derandomize=True)
@given(operations=OPERATIONS, labels=st.lists(st.sampled_from(CLASSES), min_size=25, max_size=25))
def test_any_sequence_of_changes_replays_to_the_same_state(tmp_path_factory, operations, labels):
    path = tmp_path_factory.mktemp("replay") / "labels.jsonl"
    store = make_store(path)
    expected: dict[str, str] = {}
    for (kind, ids), label in zip(operations, labels, strict=False):
        if kind == "set":
            store.set(ids, label)
        elif kind == "remove":
            store.remove(ids)
        else:
            getattr(store, kind)()
        expected = store.series().to_dict()
    again = make_store(path)  # a fresh replay of the log agrees with the live store
    assert again.series().to_dict() == expected
    assert (again.can_undo, again.can_redo) == (store.can_undo, store.can_redo)
    while again.can_undo:  # and everything can be undone, back to nothing
        again.undo()
    assert len(again) == 0 and len(store) == 0
