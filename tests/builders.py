"""Small copies of every supported dataset layout, written by the tests themselves.

Labels follow one rule so tests can state exact counts: image ``i`` (0-based) is male when
``i % 5 < 2`` (40 % male).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image

from gender_desktop.data.celeba import CELEBA_ATTRIBUTES

ATTRS = CELEBA_ATTRIBUTES


def is_male(i: int) -> bool:
    return i % 5 < 2


def males(n: int) -> int:
    return sum(is_male(i) for i in range(n))


def jpeg_bytes(i: int, size: tuple[int, int] = (12, 14), fmt: str = "JPEG") -> bytes:
    color = (200, 60, 60) if is_male(i) else (60, 60, 200)
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def write_images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        (folder / name).write_bytes(jpeg_bytes(i))


def celeba_names(n: int) -> list[str]:
    return [f"{i + 1:06d}.jpg" for i in range(n)]


def attr_value(i: int, name: str) -> int:
    if name == "Male":
        return 1 if is_male(i) else -1
    if name == "Eyeglasses":
        return 1 if i % 4 == 0 else -1
    if name == "Young":
        return 1 if i % 2 == 0 else -1
    return -1


def attr_txt(n: int, *, crlf: bool = False, declared: int | None = None) -> str:
    lines = [str(n if declared is None else declared), " ".join(ATTRS) + " "]
    for i, name in enumerate(celeba_names(n)):
        values = "".join(f" {attr_value(i, a):2d}" for a in ATTRS)
        lines.append(f"{name}{values}")
    sep = "\r\n" if crlf else "\n"
    return sep.join(lines) + sep


def partition_code(i: int, n: int) -> int:
    return 0 if i < int(n * 0.8) else 1 if i < int(n * 0.9) else 2


def partition_txt(n: int) -> str:
    return "".join(f"{name} {partition_code(i, n)}\n" for i, name in enumerate(celeba_names(n)))


LANDMARK_NAMES = (
    "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
    "rightmouth_x rightmouth_y"
).split()
Eyes = tuple[tuple[int, int], tuple[int, int]]
TYPICAL_EYES: Eyes = ((69, 111), (108, 111))  # CelebA's typical aligned eyes (ml/framing.py)


def landmark_values(i: int, eyes: Eyes) -> list[int]:
    """Image ``i``'s landmarks: ``eyes`` moved by -2..2 px across and -1..1 px down, both eyes
    together, so every eye distance is theirs and, over a multiple of 15 images, the median eye
    centre is ``eyes``' centre."""
    (lx, ly), (rx, ry) = eyes
    dx, dy = i % 5 - 2, i % 3 - 1
    return [lx + dx, ly + dy, rx + dx, ry + dy, 88 + dx, 142, 73, 152, 108, 154]


def landmarks_txt(n: int, eyes: Eyes = TYPICAL_EYES) -> str:
    """The official ``list_landmarks_align_celeba.txt``: a count, the names, padded rows."""
    rows = [str(n), " ".join(LANDMARK_NAMES)]
    for i, name in enumerate(celeba_names(n)):
        rows.append(name + "".join(f" {v:5d}" for v in landmark_values(i, eyes)))
    return "\n".join(rows) + "\n"


def landmarks_csv(n: int, eyes: Eyes = TYPICAL_EYES) -> str:
    """The Kaggle copy's ``list_landmarks_align_celeba.csv``."""
    rows = ["image_id," + ",".join(LANDMARK_NAMES)]
    for i, name in enumerate(celeba_names(n)):
        rows.append(name + "," + ",".join(str(v) for v in landmark_values(i, eyes)))
    return "\n".join(rows) + "\n"


def celeba_official(
    root: Path,
    n: int = 50,
    *,
    layout: str = "flat",
    partition: bool = True,
    zipped: bool = False,
    crlf: bool = False,
    declared: int | None = None,
    landmarks: bool = False,
) -> Path:
    """layout: 'flat' (everything in root), 'release' (Img/ Anno/ Eval/), 'torchvision'
    (root/celeba/...). ``landmarks``: with the typical ``list_landmarks_align_celeba.txt``."""
    base = root / "celeba" if layout == "torchvision" else root
    anno = base / "Anno" if layout == "release" else base
    evald = base / "Eval" if layout == "release" else base
    imgs = base / "Img" if layout == "release" else base
    anno.mkdir(parents=True, exist_ok=True)
    evald.mkdir(parents=True, exist_ok=True)
    (anno / "list_attr_celeba.txt").write_bytes(attr_txt(n, crlf=crlf, declared=declared).encode())
    if partition:
        (evald / "list_eval_partition.txt").write_text(partition_txt(n))
    if landmarks:
        (anno / "list_landmarks_align_celeba.txt").write_text(landmarks_txt(n))
    names = celeba_names(n)
    if zipped:
        imgs.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(imgs / "img_align_celeba.zip", "w") as zf:
            for i, name in enumerate(names):
                zf.writestr(f"img_align_celeba/{name}", jpeg_bytes(i))
    else:
        write_images(imgs / "img_align_celeba", names)
    return root


def celeba_kaggle(root: Path, n: int = 40, *, landmarks: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if landmarks:
        (root / "list_landmarks_align_celeba.csv").write_text(landmarks_csv(n))
    names = celeba_names(n)
    rows = ["image_id," + ",".join(ATTRS)]
    rows += [
        f"{name}," + ",".join(str(attr_value(i, a)) for a in ATTRS) for i, name in enumerate(names)
    ]
    (root / "list_attr_celeba.csv").write_text("\n".join(rows) + "\n")
    part = ["image_id,partition"] + [f"{nm},{partition_code(i, n)}" for i, nm in enumerate(names)]
    (root / "list_eval_partition.csv").write_text("\n".join(part) + "\n")
    write_images(root / "img_align_celeba" / "img_align_celeba", names)
    return root


def subset_csv(n: int, *, coding: str = "-1/1", id_col: str = "image_id") -> str:
    neg = "-1" if coding == "-1/1" else "0"
    rows = [f"{id_col},Male,Eyeglasses,Young"]
    for i, name in enumerate(celeba_names(n)):
        rows.append(
            f"{name},{'1' if is_male(i) else neg},{'1' if i % 4 == 0 else neg},"
            f"{'1' if i % 2 == 0 else neg}"
        )
    return "\n".join(rows) + "\n"


def celeba_subset(
    root: Path,
    n: int = 100,
    *,
    images: str = "folder",
    coding: str = "-1/1",
    id_col: str = "image_id",
) -> Path:
    """images: 'folder' (root/images/), 'zip' (root/images.zip, flat) or 'zip-nested'
    (root/celeba_30k.zip with one folder level inside)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "celeba_subset.csv").write_text(subset_csv(n, coding=coding, id_col=id_col))
    names = celeba_names(n)
    if images == "folder":
        write_images(root / "images", names)
    else:
        inner = "celeba_30k/" if images == "zip-nested" else ""
        with zipfile.ZipFile(root / "celeba_30k.zip", "w") as zf:
            for i, name in enumerate(names):
                zf.writestr(inner + name, jpeg_bytes(i))
    return root


UTK_BROKEN = (
    "39_1_20170116174525125.jpg.chip.jpg",  # the race field is missing
    "61_3_2_20170109150557335.jpg.chip.jpg",  # gender 3
)


def utkface(root: Path, n: int = 30) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        gender = 0 if is_male(i) else 1
        name = f"{20 + i}_{gender}_{i % 5}_2017011617452{i:04d}.jpg.chip.jpg"
        if i == 3:
            name = f"{20 + i}_{gender}_{i % 5}_2017011617452{i:04d} .jpg"  # stray space, valid
        (root / name).write_bytes(jpeg_bytes(i))
    for name in UTK_BROKEN:
        (root / name).write_bytes(jpeg_bytes(0))
    return root


ADIENCE_HEADER = (
    "user_id\toriginal_image\tface_id\tage\tgender\tx\ty\tdx\tdy\ttilt_ang\t"
    "fiducial_yaw_angle\tfiducial_score"
)


def adience(root: Path, per_fold: int = 6, unknown_per_fold: int = 1) -> Path:
    """Five folds of ``per_fold`` m/f faces plus ``unknown_per_fold`` rows with gender u/empty."""
    root.mkdir(parents=True, exist_ok=True)
    k = 0
    for fold in range(5):
        lines = [ADIENCE_HEADER]
        for j in range(per_fold + unknown_per_fold):
            user = f"user{fold}"
            orig = f"{1000 + k}_abc_o.jpg"
            if j < per_fold:
                gender = "m" if is_male(k) else "f"
                path = root / "aligned" / user / f"landmark_aligned_face.{j}.{orig}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(jpeg_bytes(k))
                k += 1
            else:
                gender = "u" if j % 2 == 0 else ""
            lines.append(f"{user}\t{orig}\t{j}\t(25, 32)\t{gender}\t0\t0\t10\t10\t0\t0\t1")
        (root / f"fold_{fold}_data.txt").write_text("\n".join(lines) + "\n")
    return root


def folder_per_class(
    root: Path, n: int = 20, *, splits: bool = False, names: tuple[str, str] = ("male", "female")
) -> Path:
    for i in range(n):
        cls = names[0] if is_male(i) else names[1]
        split = ("train", "val", "test")[partition_code(i, n)] if splits else ""
        folder = root / split / cls if split else root / cls
        folder.mkdir(parents=True, exist_ok=True)
        fmt = ("JPEG", "PNG", "WEBP", "BMP")[i % 4]
        ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp"}[fmt]
        (folder / f"img{i:03d}.{ext}").write_bytes(jpeg_bytes(i, fmt=fmt))
    return root
