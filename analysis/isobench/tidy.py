"""A run's samples as one long table: reading the cell files, writing samples.csv and
samples.parquet.

:func:`load_tidy` turns the cell files of a results folder into one long table
(categorical text columns, params as JSON text) a chunk of files at a time, in worker
processes when the run is large, so a million samples load in seconds and little memory.
:func:`write_samples` writes that table as CSV and Parquet.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from isobench import store

SAMPLES_CSV = "samples.csv"
SAMPLES_PARQUET = "samples.parquet"


@dataclass
class Loaded:
    """A run's samples as one long table, and its cell records without their samples."""

    frame: pd.DataFrame
    cells: list[dict[str, Any]]


# --- cell records ------------------------------------------------------------------------


def _cell(record: dict[str, Any]) -> dict[str, Any]:
    """The cell descriptor of a cell record ({} if absent or malformed)."""
    cell = record.get("cell")
    return cell if isinstance(cell, dict) else {}


# --- loading: cell files -> one long table -----------------------------------------------

PARALLEL_BYTES = 64 * 2**20  # cell files above this in total are read by worker processes
CHUNK_BYTES = 16 * 2**20  # cell files handed to one worker call
MAX_WORKERS = 8
SAMPLE_DEFAULTS: dict[str, Any] = {"warmup": False}
NUMERIC_COLUMNS = ("value", "repetition")
BOOL_COLUMNS = ("higher_is_better", "warmup")
_UNSET = object()


def _canonical(value: Any) -> Any:
    """params as the tables keep them: null entries of objects dropped, integral floats
    (below 2^53) written as integers, so both parsers give the same text."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def params_json(value: Any) -> str:
    """The JSON text of one params value (sorted keys, :func:`_canonical`); "" if no dict."""
    if not isinstance(value, dict | list):
        return ""
    return json.dumps(_canonical(value), sort_keys=True, default=str)


def params_text(values: Iterable[Any]) -> list[str]:
    """:func:`params_json` of each value; runs of equal dicts (the samples of one cell)
    are encoded once."""
    out: list[str] = []
    last: Any = _UNSET
    text = ""
    for value in values:
        if value is not last and value != last:
            text = params_json(value)
            last = value
        out.append(text)
    return out


def _column(samples: list[Any], name: str) -> list[Any]:
    try:
        return list(map(itemgetter(name), samples))
    except (KeyError, TypeError):  # a key left out (warmup is optional) or not a dict
        default = SAMPLE_DEFAULTS.get(name)
        return [s.get(name, default) if isinstance(s, dict) else None for s in samples]


def _hashable(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    try:
        array[:] = values
        pd.factorize(array[:1])
    except (ValueError, TypeError):
        values = [
            json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in values
        ]
        array[:] = values
    return array


def _encode(name: str, values: list[Any]) -> tuple[Any, ...]:
    """A column of Python values: ("num", floats) or ("cat", codes, uniques) (params are
    JSON text already)."""
    if name in NUMERIC_COLUMNS:
        return ("num", np.asarray(values, dtype=float))  # None -> NaN
    if name == "warmup":
        values = [False if v is None else v for v in values]
    try:
        codes, uniques = pd.factorize(_hashable(values))
    except TypeError:  # unhashable values left: text for all
        codes, uniques = pd.factorize(np.asarray([json.dumps(v, default=str) for v in values]))
    return ("cat", codes.astype(np.int32), list(uniques))


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    """What the report keeps of an ok cell record: its id, status and sample count (its
    samples are in the table; failed records are kept whole)."""
    return {
        "cell": {"id": _cell(record).get("id")},
        "status": record.get("status"),
        "n_samples": record.get("n_samples", 0),
    }


def _encode_samples(name: str, samples: list[Any]) -> tuple[Any, ...]:
    """One column of parsed samples, encoded (params as :func:`params_text`)."""
    values = _column(samples, name)
    return _encode(name, params_text(values) if name == "params" else values)


# pyarrow's JSON reader: the fast path for large cell files -------------------------------

ARROW_MIN_BYTES = 1 << 18  # cell files from this size on (256 KiB) are parsed by pyarrow
_NUMERIC_TYPES = (pa.types.is_integer, pa.types.is_floating, pa.types.is_null)
_TEXT_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_null)


def _is(kind: tuple[Any, ...], arrow_type: pa.DataType) -> bool:
    return any(test(arrow_type) for test in kind)


def _arrow_codes(array: pa.Array) -> tuple[Any, ...]:
    if pa.types.is_null(array.type):
        return ("cat", np.full(len(array), -1, np.int32), [])
    encoded = array.dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    return ("cat", codes, encoded.dictionary.to_pylist())


def _leaf_codes(array: pa.Array, out: list[np.ndarray]) -> None:
    """Integer codes per leaf of a nested params array (two rows with equal codes in every
    leaf are equal params)."""
    if pa.types.is_struct(array.type):
        out.append(array.is_valid().to_numpy(zero_copy_only=False).astype(np.int64))
        for child in array.flatten():
            _leaf_codes(child, out)
    elif pa.types.is_null(array.type):
        return
    elif pa.types.is_nested(array.type):  # lists: through their JSON text
        texts = [json.dumps(v, sort_keys=True, default=str) for v in array.to_pylist()]
        out.append(pd.factorize(np.asarray(texts, dtype=object))[0].astype(np.int64))
    else:
        codes = array.dictionary_encode().indices.fill_null(-1)
        out.append(codes.to_numpy(zero_copy_only=False).astype(np.int64))


def _arrow_params(array: pa.Array) -> tuple[Any, ...] | None:
    if pa.types.is_null(array.type):
        return ("cat", np.zeros(len(array), np.int32), [""])
    if not pa.types.is_struct(array.type):
        return None
    leaves: list[np.ndarray] = []
    _leaf_codes(array, leaves)
    matrix = np.stack(leaves, axis=1)
    _, first, inverse = np.unique(matrix, axis=0, return_index=True, return_inverse=True)
    texts = [params_json(p) for p in array.take(pa.array(first)).to_pylist()]
    return ("cat", inverse.reshape(-1).astype(np.int32), texts)


def _arrow_column(name: str, array: pa.Array) -> tuple[Any, ...] | None:
    """One sample field as an encoded column; None for a type the Python path must read."""
    kind = array.type
    if name in NUMERIC_COLUMNS:
        if not _is(_NUMERIC_TYPES, kind):
            return None
        return ("num", array.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if name == "params":
        return _arrow_params(array)
    if name in BOOL_COLUMNS:
        if not (pa.types.is_boolean(kind) or pa.types.is_null(kind)):
            return None
        if name == "warmup":
            array = array.cast(pa.bool_()).fill_null(False)
    elif not _is(_TEXT_TYPES, kind):
        return None
    return _arrow_codes(array)


def read_cell_arrow(
    path: Path, size: int | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """An ok cell file parsed by pyarrow: its record without samples and its samples'
    encoded columns (None when it has none). None when pyarrow cannot read it as Python's
    json would (a cell not ok, a field of an unexpected type such as a timestamp pyarrow
    inferred from a text without fractional seconds, mixed types): the caller falls back."""
    try:
        table = pajson.read_json(
            path,
            read_options=pajson.ReadOptions(
                block_size=(path.stat().st_size if size is None else size) + 1, use_threads=False
            ),
            parse_options=pajson.ParseOptions(newlines_in_values=True),
        )
        if table.num_rows != 1:
            return None
        names = [n for n in table.column_names if n != "samples"]
        record = table.select(names).to_pylist()[0]
        if "samples" not in table.column_names:
            record["n_samples"] = 0
            return record, None
        listed = table.column("samples").combine_chunks()
        if not pa.types.is_list(listed.type):
            return None
        flat = listed.flatten()
        record["n_samples"] = len(flat)
        if record.get("status") != "ok":  # kept whole: let Python's json read it exactly
            return None
        if not len(flat):
            return record, None
        if not pa.types.is_struct(flat.type) or flat.null_count:
            return None
        fields = dict(zip([f.name for f in flat.type], flat.flatten(), strict=True))
        encoded = {}
        for name in store.SAMPLE_COLUMNS:
            item = _arrow_column(name, fields.get(name, pa.nulls(len(flat))))
            if item is None:
                return None
            encoded[name] = item
        return record, encoded
    except (pa.ArrowException, ValueError, TypeError, OSError):
        return None


class _Encoded:
    """Encoded columns joined in order: codes remapped onto one set of categories."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {n: [] for n in store.SAMPLE_COLUMNS}
        self.index: dict[str, dict[Any, int]] = {n: {} for n in store.SAMPLE_COLUMNS}

    def __bool__(self) -> bool:
        return bool(self.parts["value"])

    def add(self, encoded: dict[str, Any]) -> None:
        for name, item in encoded.items():
            if item[0] == "num":
                self.parts[name].append(item[1])
                continue
            _, codes, uniques = item
            index = self.index[name]
            remap = np.array([index.setdefault(u, len(index)) for u in uniques] + [-1], np.int32)
            self.parts[name].append(remap[codes])

    def encoded(self) -> dict[str, Any]:
        """The joined columns, encoded again (for sending from a worker)."""
        out: dict[str, Any] = {}
        for name in store.SAMPLE_COLUMNS:
            data = np.concatenate(self.parts[name])
            out[name] = ("num", data) if name in NUMERIC_COLUMNS else (
                "cat", data, list(self.index[name])
            )  # fmt: skip
        return out

    def frame(self) -> pd.DataFrame:
        if not self:
            return pd.DataFrame(columns=store.SAMPLE_COLUMNS)
        out: dict[str, Any] = {}
        for name, item in self.encoded().items():
            data = item[1]
            if name == "repetition":
                missing = np.isnan(data)
                out[name] = (
                    data.astype(np.int64)
                    if not missing.any()
                    else pd.array(np.where(missing, None, data), dtype="Int64")
                )
            elif name in NUMERIC_COLUMNS:
                out[name] = data
            elif name in BOOL_COLUMNS:
                values = np.array([*item[2], None], dtype=object)[data]
                has_none = any(v is None for v in item[2]) or bool((data < 0).any())
                out[name] = values if has_none else values.astype(bool)
            else:
                categories = pd.Index(item[2], dtype=object if not item[2] else None)
                out[name] = pd.Categorical.from_codes(data, categories=categories)
        return pd.DataFrame(out, columns=store.SAMPLE_COLUMNS)


def read_cell_chunk(
    files: Sequence[tuple[str, int]],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Read cell files: their records without samples, and the samples of ok cells as
    encoded columns. Files of :data:`ARROW_MIN_BYTES` or more go through pyarrow's JSON
    reader, the others (and any pyarrow cannot read) through Python's json. ``files``:
    (path, size in bytes). Runs in a worker process for large runs."""
    records: list[dict[str, Any]] = []
    joined = _Encoded()
    pending: list[Any] = []  # samples parsed by json, encoded a column at a time

    def flush() -> None:
        if pending:
            joined.add({name: _encode_samples(name, pending) for name in store.SAMPLE_COLUMNS})
            pending.clear()

    for name, size in files:
        path = Path(name)
        fast = read_cell_arrow(path, size) if size >= ARROW_MIN_BYTES else None
        if fast is not None:
            record, encoded = fast
            if encoded is not None:
                flush()
                joined.add(encoded)
        else:
            record = store.read_json(path)
            if not isinstance(record, dict):
                raise store.ResultsError(f"{path}: a cell record must be a JSON object")
            samples = record.pop("samples", None)
            samples = samples if isinstance(samples, list) else []
            record["n_samples"] = len(samples)
            if record.get("status") == "ok":
                pending.extend(samples)
        records.append(_slim(record) if record.get("status") == "ok" else record)
    flush()
    return records, (joined.encoded() if joined else None)


def _cell_files(folder: Path) -> list[tuple[str, int]]:
    """(path, size) of every cell file, sorted by name (as ``store.load_cells``)."""
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        found = [
            (e.name, e.path, e.stat().st_size)
            for e in entries
            if e.name.endswith(".json") and not e.name.startswith(".") and e.is_file()
        ]
    return [(path, size) for _, path, size in sorted(found)]


def _chunks(files: list[tuple[str, int]], limit: int) -> list[list[tuple[str, int]]]:
    chunks: list[list[tuple[str, int]]] = [[]]
    size = 0
    for path, length in files:
        if chunks[-1] and size + length > limit:
            chunks.append([])
            size = 0
        chunks[-1].append((path, length))
        size += length
    return [c for c in chunks if c]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_tidy(run_dir: Path, workers: int | None = None) -> Loaded:
    """Every cell of ``run_dir``: the samples of ok cells as one long table (the columns of
    :data:`isobench.store.SAMPLE_COLUMNS`, text columns categorical, ``params`` as JSON
    text, ``warmup`` defaulting to false) and the cell records without their samples.

    Equivalent to ``store.samples_frame(store.load_cells(run_dir))`` but never holds more
    than a chunk of parsed JSON at once; runs over :data:`PARALLEL_BYTES` of cell files
    are read by ``workers`` processes (default: one per CPU, at most :data:`MAX_WORKERS`).
    """
    files = _cell_files(Path(run_dir) / store.CELLS_DIR)
    total = sum(size for _, size in files)
    if workers is None:
        workers = min(_cpus(), MAX_WORKERS) if total > PARALLEL_BYTES else 1
    chunk = CHUNK_BYTES if workers <= 1 else max(1 << 20, min(CHUNK_BYTES, total // (4 * workers)))
    chunks = _chunks(files, chunk)
    columns, cells = _Encoded(), []

    def take(results: Iterable[tuple[list[dict[str, Any]], dict[str, Any] | None]]) -> None:
        for records, encoded in results:
            cells.extend(records)
            if encoded is not None:
                columns.add(encoded)

    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
            take(pool.map(read_cell_chunk, chunks))
    else:
        take(map(read_cell_chunk, chunks))
    return Loaded(columns.frame(), cells)


# --- files -------------------------------------------------------------------------------


CSV_BATCH_ROWS = 1 << 17  # rows decoded and written at a time


def _export_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The tidy table as written: ``params`` as JSON text (one encoding per category)."""
    out = frame.copy(deep=False)
    params = out["params"] if "params" in out.columns else None
    if params is not None and not isinstance(params.dtype, pd.CategoricalDtype):
        out["params"] = params_text(params)
    return out


def samples_table(frame: pd.DataFrame) -> pa.Table:
    """The tidy table as Arrow (text columns dictionary-encoded, ``params`` as JSON text)."""
    out = _export_frame(frame)
    try:
        table = pa.Table.from_pandas(out, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed-type object columns: as text
        for column in out.columns:
            if out[column].dtype == object:
                out[column] = [None if v is None else str(v) for v in out[column]]
        table = pa.Table.from_pandas(out, preserve_index=False)
    return table.replace_schema_metadata(None)


def _plain(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def write_samples_csv(frame: pd.DataFrame | pa.Table, path: Path) -> Path:
    """The tidy table of every sample of ok cells (warm-ups included, column ``warmup``);
    ``params`` as JSON text. Written a batch of rows at a time (bounded memory)."""
    table = frame if isinstance(frame, pa.Table) else samples_table(frame)
    schema = pa.schema([pa.field(f.name, _plain(f.type)) for f in table.schema])
    options = pacsv.WriteOptions()  # strings quoted, booleans true/false
    with pacsv.CSVWriter(path, schema, write_options=options) as writer:
        for batch in table.to_batches(max_chunksize=CSV_BATCH_ROWS):
            columns = [
                c.dictionary_decode() if pa.types.is_dictionary(c.type) else c
                for c in batch.columns
            ]
            writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
    return path


def write_samples_parquet(frame: pd.DataFrame | pa.Table, path: Path) -> Path:
    """The same table as :func:`write_samples_csv`, in Parquet (text columns dictionary-
    encoded, ``params`` as JSON text)."""
    pq.write_table(frame if isinstance(frame, pa.Table) else samples_table(frame), path)
    return path


def write_samples(frame: pd.DataFrame | pa.Table, folder: Path) -> dict[str, Path]:
    """samples.csv and samples.parquet in ``folder``."""
    return {
        "samples": write_samples_csv(frame, folder / SAMPLES_CSV),
        "parquet": write_samples_parquet(frame, folder / SAMPLES_PARQUET),
    }
