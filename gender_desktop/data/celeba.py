"""Readers for the CelebA family: the official release (``list_attr_celeba.txt``), the Kaggle
CSV copy, and course-style subsets (one CSV with a ``Male`` column)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from gender_desktop import csvsafe
from gender_desktop.data.errors import DatasetError
from gender_desktop.data.parsed import PARTITION_CODES, SPLITS, Parsed
from gender_desktop.data.sources import Source
from gender_desktop.data.tables import (
    BOM,
    MAX_COLUMNS,
    RESERVED,
    attribute_names,
    check_header,
    check_shape,
    check_unique_ids,
    coded_flags,
    find_column,
    header_names,
    line_of,
    read_table,
)

# Files that come with CelebA but are not its labels: picking one means "this dataset".
AUXILIARY = (
    "list_eval_partition.txt",
    "list_eval_partition.csv",
    "identity_celeba.txt",
    "list_bbox_celeba.txt",
    "list_bbox_celeba.csv",
    "list_landmarks_align_celeba.txt",
    "list_landmarks_align_celeba.csv",
)
# The 40 attributes of list_attr_celeba.txt, in file order.
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
    "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard "
    "Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair "
    "Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
ATTR_TXT = "list_attr_celeba.txt"
ATTR_CSV = "list_attr_celeba.csv"
PARTITION_TXT = "list_eval_partition.txt"
PARTITION_CSV = "list_eval_partition.csv"
IDENTITY_TXT = "identity_CelebA.txt"
ID_COLUMNS = (
    "image_id",
    "filename",
    "file_name",
    "file",
    "image",
    "img",
    "image_name",
    "name",
    "path",
    "file_path",
    "filepath",
)
# The official reader adds the identity file's column, so an attribute must not take its name.
OFFICIAL_RESERVED = (*RESERVED, "identity")
SPLIT_COLUMNS = ("split", "partition")


def find_file(source: Source, name: str, near: str = "") -> str | None:
    """The shallowest file called ``name`` (case-insensitive), preferring one beside ``near``."""
    name = name.lower()
    matches = [f for f in source.other_files() if f.rsplit("/", 1)[-1].lower() == name]
    if not matches:
        return None
    near_dir = str(PurePosixPath(near).parent) if near else None
    return min(matches, key=lambda f: (str(PurePosixPath(f).parent) != near_dir, f.count("/"), f))


def _header_lines(data: bytes) -> tuple[bytes, bytes]:
    parts = data.split(b"\n", 2)
    if len(parts) < 3:
        return (parts[0] if parts else b""), (parts[1] if len(parts) > 1 else b"")
    return parts[0], parts[1]


def read_official(source: Source, attr_rel: str, candidates: list[Source]) -> Parsed:
    display = source.display(attr_rel)
    data = source.read_bytes(attr_rel).removeprefix(BOM)
    if not data.strip():
        raise DatasetError("the file is empty", display)
    check_shape(data, display)
    count_line, names_line = _header_lines(data)
    names = names_line.decode("utf-8", "replace").split()
    if not names:
        raise DatasetError("line 2 should list the attribute names", display, 2)
    if len(names) > MAX_COLUMNS:
        raise DatasetError(
            f"{len(names):,} attribute names; at most {MAX_COLUMNS:,} are supported",
            display,
            2,
        )
    check_header(names, display, 2)
    if "Male" not in names:
        raise DatasetError(
            f"no 'Male' attribute among the {len(names)} names on line 2", display, 2
        )
    mapping, warnings = attribute_names(
        [n for n in names if n != "Male"], display, OFFICIAL_RESERVED
    )
    names = [mapping.get(n, n) for n in names]
    frame = official_rows(data, display, names, {"image_id": str})
    try:
        declared = int(count_line.strip())
        if declared != len(frame):
            warnings.append(
                f"{display}: line 1 declares {declared:,} images but {len(frame):,} rows follow; "
                "using the rows"
            )
    except ValueError:
        warnings.append(f"{display}: line 1 is not an image count; ignored")
    table = _attribute_table(frame, names, display, first_row_line=3)
    table = _with_partition(table, source, attr_rel, warnings)
    split_origin = "official partition" if "split" in table else None
    table = _with_identity(table, source, attr_rel, warnings)
    return Parsed(
        layout="celeba-official",
        family="celeba",
        table=table,
        annotation=display,
        image_candidates=candidates,
        split_origin=split_origin,
        warnings=warnings,
    )


def read_kaggle(source: Source, attr_rel: str, candidates: list[Source]) -> Parsed:
    display = source.display(attr_rel)
    data = source.read_bytes(attr_rel)
    check_shape(data, display, ",")
    check_header(header_names(data, ","), display, 1)
    frame = read_table(data, display, dtype={0: str})
    frame.columns = [str(c).strip() for c in frame.columns]
    id_col = frame.columns[0]
    if "Male" not in frame.columns[1:]:
        raise DatasetError("no 'Male' column in the header", display, 1)
    mapping, warnings = attribute_names(
        [c for c in frame.columns[1:] if c != "Male"], display, RESERVED
    )
    frame = frame.rename(columns={**mapping, id_col: "image_id"})
    names = [c for c in frame.columns if c != "image_id"]
    table = _attribute_table(frame, names, display, first_row_line=2)
    table = _with_partition(table, source, attr_rel, warnings)
    return Parsed(
        layout="celeba-kaggle",
        family="celeba",
        table=table,
        annotation=display,
        image_candidates=candidates,
        split_origin="official partition" if "split" in table else None,
        warnings=warnings,
    )


def delimiter(header: str) -> str:
    """The field separator of a table from its header line: tab, semicolon or comma."""
    counts = {sep: header.count(sep) for sep in ("\t", ";", ",")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _header_line(source: Source, rel: str) -> str:
    head = source.read_head(rel).decode("utf-8-sig", "replace").splitlines()
    return head[0] if head else ""


def has_male_column(source: Source, rel: str) -> bool:
    """Cheap check of a table's header line, used by layout detection. Raises the
    :class:`DatasetError` of a file that cannot be read (the caller decides if it matters)."""
    header = _header_line(source, rel)
    return any(c.strip().strip('"').lower() == "male" for c in header.split(delimiter(header)))


def read_subset(source: Source, csv_rel: str, candidates: list[Source]) -> Parsed:
    display = source.display(csv_rel)
    data = source.read_bytes(csv_rel)
    sep = delimiter(data[:4096].decode("utf-8-sig", "replace").split("\n", 1)[0])
    check_shape(data, display, sep)
    check_header(header_names(data, sep), display, 1)
    frame = read_table(
        data, display, sep=sep, dtype=str, keep_default_na=False, encoding_errors="surrogateescape"
    )
    # The app's own label exports write formula-like ids as text ('=x.jpg): read them back as
    # the ids they are (csvsafe's unescape only strips a quote the app would have added).
    frame = csvsafe.unescape_frame(frame)
    frame.columns = [str(c).strip() for c in frame.columns]
    male_col = find_column(frame, "Male")
    if male_col is None:
        raise DatasetError(
            f"no 'Male' column; the header has: {', '.join(frame.columns[:12])}", display, 1
        )
    id_col = find_column(frame, *ID_COLUMNS) or frame.columns[0]
    if id_col == male_col:
        raise DatasetError("the first column should name the image file", display, 1)
    split_col = find_column(frame, *SPLIT_COLUMNS)
    chosen = (id_col, male_col, split_col)
    mapping, warnings = attribute_names([c for c in frame.columns if c not in chosen], display)
    frame = frame.rename(columns={**mapping, id_col: "image_id", male_col: "Male"})
    split_col = mapping.get(split_col, split_col) if split_col is not None else None
    frame["image_id"] = frame["image_id"].str.strip()
    others = [c for c in frame.columns if c not in ("image_id", split_col)]
    flags = [c for c in others if c == "Male" or frame[c].str.strip().isin(("-1", "0", "1")).all()]
    extra = {c: frame[c].to_numpy() for c in others if c not in flags}
    table = _attribute_table(frame, flags, display, first_row_line=2, keep_names=True, extra=extra)
    split_origin = None
    if split_col is not None:
        table["split"] = _split_values(frame[split_col], display)
        split_origin = f"'{split_col}' column"
    return Parsed(
        layout="celeba-subset",
        family="celeba-subset",
        table=table,
        annotation=display,
        image_candidates=candidates,
        split_origin=split_origin,
        warnings=warnings,
    )


def _attribute_table(
    frame: pd.DataFrame,
    names: list[str],
    display: str,
    first_row_line: int,
    keep_names: bool = False,
    extra: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The reader's table: ids, the file name to locate, Male, the flag attributes as booleans,
    then ``extra`` columns as they are. Built in one go: adding columns one by one costs
    quadratic time in their number."""
    ids = frame["image_id"].astype(str)
    check_unique_ids(ids, display, first_row_line)
    flags = coded_flags(frame, names, display, first_row_line)
    columns: dict[str, object] = {
        "image_id": ids.to_numpy(dtype=object),
        "name": [i.rsplit("/", 1)[-1] for i in ids] if keep_names else ids.to_numpy(),
        "Male": flags["Male"].to_numpy().astype(np.int8),
    }
    columns.update({col: flags[col].to_numpy() for col in names if col != "Male"})
    columns.update(extra or {})
    return pd.DataFrame(columns)


def _split_values(values: pd.Series, display: str) -> np.ndarray:
    text = values.astype(str).str.strip().str.lower()
    mapping = {"0": "train", "1": "val", "2": "test", "valid": "val", "validation": "val"}
    text = text.replace(mapping)
    bad = ~text.isin(SPLITS)
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DatasetError(
            f"split value {values.iloc[pos]!r}; expected train/val/test or 0/1/2",
            display,
            line_of(values, pos, 2),
        )
    return text.to_numpy(dtype=object)


def _with_partition(
    table: pd.DataFrame, source: Source, attr_rel: str, warnings: list[str]
) -> pd.DataFrame:
    """Add the official split. The partition file is optional: a broken one is reported and a
    seeded split is used instead, rather than refusing the whole dataset."""
    try:
        return _read_partition(table, source, attr_rel, warnings)
    except DatasetError as exc:
        warnings.append(f"partition file ignored, using a seeded split instead: {exc}")
        return table


def _read_partition(
    table: pd.DataFrame, source: Source, attr_rel: str, warnings: list[str]
) -> pd.DataFrame:
    rel = find_file(source, PARTITION_TXT, attr_rel) or find_file(source, PARTITION_CSV, attr_rel)
    if rel is None:
        return table
    display = source.display(rel)
    data = source.read_bytes(rel)
    if rel.lower().endswith(".csv"):
        part = read_table(data, display, dtype={0: str})
        part = part.iloc[:, :2]
        part.columns = ["image_id", "partition"]
        first = 2
    else:
        part = read_table(
            data, display, sep=r"\s+", header=None, names=["image_id", "partition"], dtype={0: str}
        )
        first = 1
    codes = pd.to_numeric(part["partition"], errors="coerce")
    if len(codes) and pd.isna(codes.iloc[0]):  # a header line such as "image_id partition"
        part, codes = part.iloc[1:], codes.iloc[1:]
    bad = ~codes.isin(PARTITION_CODES)
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DatasetError(
            f"partition value {part['partition'].iloc[pos]!r}; expected 0, 1 or 2",
            display,
            line_of(part, pos, first),
        )
    lookup = pd.Series(codes.to_numpy(), index=part["image_id"].astype(str).to_numpy())
    lookup = lookup[~lookup.index.duplicated()]
    mapped = lookup.reindex(table["image_id"].to_numpy())
    if mapped.isna().any():
        warnings.append(
            f"{display} covers {int(mapped.notna().sum()):,} of {len(table):,} images; "
            "using a seeded split instead"
        )
        return table
    table["split"] = mapped.map(PARTITION_CODES).to_numpy(dtype=object)
    return table


def _with_identity(
    table: pd.DataFrame, source: Source, attr_rel: str, warnings: list[str]
) -> pd.DataFrame:
    rel = find_file(source, IDENTITY_TXT, attr_rel)
    if rel is None:
        return table
    try:
        ident = read_table(
            source.read_bytes(rel),
            source.display(rel),
            sep=r"\s+",
            header=None,
            names=["image_id", "identity"],
            dtype={0: str},
        )
    except DatasetError as exc:
        warnings.append(f"identity file ignored: {exc}")
        return table
    lookup = pd.Series(ident["identity"].to_numpy(), index=ident["image_id"].to_numpy())
    lookup = lookup[~lookup.index.duplicated()]
    table["identity"] = lookup.reindex(table["image_id"].to_numpy()).to_numpy()
    return table


def official_rows(data: bytes, display: str, names: list[str], dtype: Any) -> pd.DataFrame:
    """The rows of an official CelebA annotation file (a count line, a header line naming the
    columns, then one image per row, space-separated): the attribute and landmark files."""
    return read_table(
        data,
        display,
        sep=r"\s+",
        header=None,
        skiprows=2,
        names=["image_id", *names],
        dtype=dtype,
        engine="c",
    )
