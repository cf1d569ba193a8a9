"""Find where the images named by an annotation file actually are.

Users keep images in many places: ``img_align_celeba/``, the Kaggle ``img_align_celeba/
img_align_celeba/``, ``Img/``, an ``img_align_celeba.zip`` next to the annotations, a zip with
one folder level inside. Rather than hard-coding each, every candidate container is indexed by
file name and the one that holds the most of the annotated names wins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gender_desktop.data.sources import Source

_SAMPLE = 256


def name_index(source: Source) -> pd.Series:
    """File name -> relative path for every image in ``source`` (first occurrence wins)."""
    paths = source.image_files()
    names = [p.rsplit("/", 1)[-1] for p in paths]
    index = pd.Series(paths, index=pd.Index(names), dtype=object)
    return index[~index.index.duplicated(keep="first")]


def locate(names: pd.Series, candidates: list[Source]) -> tuple[Source | None, np.ndarray]:
    """Pick the candidate holding most of ``names``; return it and each name's path (None: missing)."""
    if not candidates:
        return None, np.full(len(names), None, dtype=object)
    sample = names.iloc[np.linspace(0, len(names) - 1, min(len(names), _SAMPLE)).astype(int)]
    best: tuple[int, Source, pd.Series] | None = None
    for source in candidates:
        index = name_index(source)
        hits = int(sample.isin(index.index).sum())
        if best is None or hits > best[0]:
            best = (hits, source, index)
    assert best is not None
    _, source, index = best
    paths = index.reindex(names.to_numpy()).to_numpy(dtype=object)
    paths = np.where(pd.isna(paths), None, paths)
    return source, paths
