"""Qt-free dataset core: readers for every supported layout, the dataset table, splits,
label edits and safe image decoding."""

from gender_desktop.data.dataset import Dataset, ImportReport, open_dataset
from gender_desktop.data.errors import DatasetError

__all__ = ["Dataset", "DatasetError", "ImportReport", "open_dataset"]
