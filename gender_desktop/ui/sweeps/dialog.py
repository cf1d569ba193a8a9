"""The sweep dialog: the Train form's settings as the base, several values or a range for any
sweepable setting, how to sample them and where the study lives, and before anything starts:
how many runs and about how long.

Where more than one GPU is visible (the device probe's text says how many: the GUI never imports
torch), "One trial per GPU" runs a worker process per GPU on the study
(:mod:`gender_desktop.sweeps.parallel`), and the count and the estimate say so.

Every field is a spec of the sweep space's own syntax (``1e-3,1e-4``, ``1e-5:1e-2:log``,
``32,64,128``), parsed by :mod:`gender_desktop.sweeps.space` as it is typed, so a mistake shows
at once in the field's own words. The keys are the space's table (``space.KEYS``): a setting
added there appears here. The estimate reads earlier runs' speeds in a background task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.ml.config import TrainConfig
from gender_desktop.runs import speed
from gender_desktop.sweeps import space
from gender_desktop.sweeps.devices import parallel_seconds
from gender_desktop.sweeps.spec import METRIC_TITLES, PRUNERS, SAMPLERS, SweepSpec, count_runs
from gender_desktop.ui.workers import Task

SAMPLER_TITLES = {"grid": "Grid (every combination)", "random": "Random", "tpe": "TPE (Optuna)"}
PRUNER_TITLES = {
    "none": "None (every trial runs all its epochs)",
    "median": "Median (stop trials behind the median)",
    "hyperband": "Hyperband",
}
ERROR_STYLE = "color: #c0392b"


def current_value(config: TrainConfig, key: space.Key) -> Any:
    """The base settings' value of a sweep key (``model.hidden`` -> its layers)."""
    target: Any = config
    for part in key.field.split("."):
        target = getattr(target, part)
    if key.kind == space.LAYERS:
        return "-".join(str(h) for h in target) or space.NO_LAYERS
    return target


class SweepDialog(QDialog):
    """Build a :class:`SweepSpec` from ``base``; ``spec()`` returns it once Start is pressed."""

    estimated = Signal(str)  # the estimate's text, once known (tests wait on it)

    def __init__(
        self,
        base: TrainConfig,
        train_images: int = 0,
        val_images: int = 0,
        device: str = "",
        runs_root: Path | None = None,
        default_storage: str = "",
        parent: QWidget | None = None,
        gpus: int = 0,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep")
        self.base = base
        self.train_images, self.val_images, self.device = train_images, val_images, device
        self.gpus = gpus  # visible CUDA GPUs (the probe's count); 2 or more: one trial per GPU
        self.speeds: list[speed.Speed] | None = None
        self.fields: dict[str, QLineEdit] = {}
        self.problem = ""
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Each trial is an ordinary run with the Train form's settings, except those given "
            "values below: a list (<tt>1e-3,1e-4</tt>) or, for numbers, a range "
            "(<tt>1e-5:1e-2:log</tt>, <tt>0.2:0.6</tt>; random and TPE sample it)."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self._space_box(), 1)
        layout.addWidget(self._how_box())
        self.count_label = QLabel()
        self.count_label.setTextFormat(Qt.TextFormat.RichText)
        self.estimate_label = QLabel("Estimated time: reading earlier runs…")
        self.estimate_label.setWordWrap(True)
        layout.addWidget(self.count_label)
        layout.addWidget(self.estimate_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.start_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Start Sweep")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.default_storage = default_storage
        self.resize(760, 720)
        self.update_plan()
        self._read_speeds(runs_root)

    # -- layout -----------------------------------------------------------------------------------
    def _space_box(self) -> QWidget:
        grid = QGridLayout()
        for col, title in enumerate(("Setting", "Train form", "Sweep over")):
            head = QLabel(f"<b>{title}</b>")
            grid.addWidget(head, 0, col)
        for row, key in enumerate(space.KEYS.values(), 1):
            name = QLabel(key.name)
            name.setToolTip(key.help)
            now = QLabel(space.format_value(current_value(self.base, key), short=True))
            now.setToolTip("the value every trial keeps unless values are given here")
            edit = QLineEdit(placeholderText="e.g. " + key.example.partition("=")[2])
            edit.setToolTip(f"{key.help}; e.g. {key.example}")
            edit.textChanged.connect(self.update_plan)
            self.fields[key.name] = edit
            grid.addWidget(name, row, 0)
            grid.addWidget(now, row, 1)
            grid.addWidget(edit, row, 2)
        grid.setColumnStretch(2, 1)
        inner = QWidget()
        inner.setLayout(grid)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(inner)
        box = QGroupBox("Space")
        QVBoxLayout(box).addWidget(scroll)
        return box

    def _how_box(self) -> QWidget:
        self.sampler = QComboBox()
        for name in SAMPLERS:
            self.sampler.addItem(SAMPLER_TITLES.get(name, name), name)
        self.trials = QSpinBox(minimum=1, maximum=100_000, value=10)
        self.trials.setToolTip("random and TPE: the number of trials in the study in all")
        self.pruner = QComboBox()
        for name in PRUNERS:
            self.pruner.addItem(PRUNER_TITLES.get(name, name), name)
        self.metric_box = QComboBox()
        for name, title in METRIC_TITLES.items():
            self.metric_box.addItem(title, name)
        self.storage = QLineEdit()
        self.storage.setToolTip(
            "an Optuna storage URL (sqlite:///file.db, postgresql://…, mysql://…) or "
            "journal:<file> on a shared disk; empty: the app's own SQLite file"
        )
        self.study = QLineEdit()
        self.study.setToolTip("the same name and storage on another machine joins this study")
        self.per_gpu = QCheckBox(f"One trial per GPU ({self.gpus} GPUs)")
        self.per_gpu.setToolTip(
            "a worker process per GPU, each pinned to its device, all taking trials from the "
            "study: up to one trial on each GPU at a time"
        )
        self.per_gpu.setChecked(self.gpus > 1)
        self.per_gpu.setVisible(self.gpus > 1)
        self.per_gpu.toggled.connect(self.update_plan)
        for widget in (self.sampler, self.pruner, self.metric_box):
            widget.currentIndexChanged.connect(self.update_plan)
        self.trials.valueChanged.connect(self.update_plan)
        form = QFormLayout()
        sampler_row = QHBoxLayout()
        sampler_row.addWidget(self.sampler, 1)
        sampler_row.addWidget(QLabel("trials:"))
        sampler_row.addWidget(self.trials)
        form.addRow("Sampler", sampler_row)
        form.addRow("Pruner", self.pruner)
        form.addRow("Chosen on", self.metric_box)
        form.addRow("Storage", self.storage)
        form.addRow("Study name", self.study)
        if self.gpus > 1:
            form.addRow("GPUs", self.per_gpu)
        box = QGroupBox("How")
        box.setLayout(form)
        return box

    # -- the plan ---------------------------------------------------------------------------------
    def specs(self) -> list[str]:
        return [f"{k}={e.text().strip()}" for k, e in self.fields.items() if e.text().strip()]

    def build_spec(self) -> SweepSpec:
        """The sweep as the fields say (a SpaceError or ConfigError says what is wrong)."""
        sampler = self.sampler.currentData()
        spec = SweepSpec(
            base=self.base,
            space=space.parse_space(self.specs()),
            sampler=sampler,
            trials=None if sampler == "grid" else self.trials.value(),
            pruner=self.pruner.currentData(),
            storage=self.storage.text().strip() or None,
            study=self.study.text().strip() or None,
            metric=self.metric_box.currentData(),
        )
        spec.validate()
        return spec

    def workers(self) -> int:
        """Trials at a time: one per GPU when asked for, else one."""
        return self.gpus if self.gpus > 1 and self.per_gpu.isChecked() else 1

    def run_count(self) -> int:
        try:
            return count_runs(self.build_spec())
        except ValueError:
            return 0

    def _mark_fields(self) -> None:
        """A field whose spec does not parse gets a red frame and the reason as its tooltip."""
        for name, edit in self.fields.items():
            text = edit.text().strip()
            problem = ""
            if text:
                try:
                    space.parse_param(f"{name}={text}")
                except ValueError as exc:
                    problem = str(exc)
            edit.setStyleSheet("border: 1px solid #c0392b" if problem else "")
            edit.setToolTip(problem or f"{space.KEYS[name].help}; e.g. {space.KEYS[name].example}")

    def update_plan(self) -> None:
        self.trials.setEnabled(self.sampler.currentData() != "grid")
        self._mark_fields()
        self.storage.setPlaceholderText(self.default_storage or "the app's SQLite file")
        try:
            spec = self.build_spec()
        except ValueError as exc:  # SpaceError, ConfigError
            self.problem = str(exc)
            self.count_label.setText(f"<span style='{ERROR_STYLE}'>{_escape(self.problem)}</span>")
            self.start_button.setEnabled(False)
            self.estimate_label.setText("Estimated time: —")
            return
        self.problem = ""
        self.study.setPlaceholderText(spec.study_name())
        runs = count_runs(spec)
        workers = self.workers()
        at_once = (
            f"up to {min(workers, runs)} at a time (one per GPU)"
            if workers > 1
            else "one at a time"
        )
        self.count_label.setText(f"<b>{runs:,} run{'s' if runs != 1 else ''}</b>, {at_once}")
        self.start_button.setEnabled(runs > 0)
        self._show_estimate(spec)

    def _show_estimate(self, spec: SweepSpec) -> None:
        if self.speeds is None:
            return
        if not self.train_images:
            text = "unknown (the dataset's split sizes are not known)"
        else:
            result = speed.sweep_estimate(
                spec, self.train_images, self.val_images, self.speeds, self.device
            )
            workers = self.workers()
            if result.seconds is not None and workers > 1:
                seconds = parallel_seconds(result.seconds, count_runs(spec), workers)
                result = speed.Estimate(seconds, f"{result.basis}; {workers} GPUs at once")
            text = result.text()
        self.estimate_label.setText(f"Estimated time: {text}")
        self.estimated.emit(text)

    def _read_speeds(self, runs_root: Path | None) -> None:
        """Earlier runs' speeds, read off the GUI thread (hundreds of small files)."""
        self._task = Task(lambda _progress, _cancel: speed.workspace_speeds(runs_root), self)
        self._task.succeeded.connect(self._speeds_read)
        self._task.failed.connect(lambda _message: self._speeds_read([]))
        self._task.start()

    def _speeds_read(self, speeds: list[speed.Speed]) -> None:
        self.speeds = speeds
        self.update_plan()

    def done(self, result: int) -> None:
        if self._task.isRunning():
            self._task.wait(2000)
        super().done(result)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
