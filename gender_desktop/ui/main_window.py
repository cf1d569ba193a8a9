"""The main window: menus, toolbar, status bar, panels, and opening datasets in the background."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QToolButton,
)

from gender_desktop import APP_NAME
from gender_desktop.data.dataset import Dataset, open_dataset
from gender_desktop.data.demo import ensure_demo
from gender_desktop.data.labels import LabelStore, export_labels
from gender_desktop.data.splits import SplitSpec, load_stored
from gender_desktop.errors import UserError, explain
from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.device import probe_device
from gender_desktop.ui import file_dialogs
from gender_desktop.ui import settings as app_settings_mod
from gender_desktop.ui.browser.panel import BrowserPanel
from gender_desktop.ui.dialogs import ExportDialog, ProblemsDialog, SplitDialog
from gender_desktop.ui.evaluation.panel import EvaluationPanel
from gender_desktop.ui.experiments import actions as experiment_actions
from gender_desktop.ui.experiments.panel import ExperimentsPanel
from gender_desktop.ui.help import AboutDialog, ShortcutSheet
from gender_desktop.ui.predict.panel import PredictPanel
from gender_desktop.ui.resources import icon
from gender_desktop.ui.tasks import TaskSlot
from gender_desktop.ui.theme import THEMES, apply_theme
from gender_desktop.ui.training.panel import TrainingPanel
from gender_desktop.ui.welcome import DEMO, WelcomePage
from gender_desktop.ui.workers import Task, TaskFn

QUIET_TASKS = ("device", "recent")  # background checks: no progress bar, no Cancel button
TRAINING_OPTIONS = "training/options"  # the Train form's settings, as TrainConfig JSON


class MainWindow(QMainWindow):
    dataset_opened = Signal(object)  # Dataset
    open_failed = Signal(str)
    verified = Signal()
    device_detected = Signal(str)  # the device text, once the probe has answered

    def __init__(self) -> None:
        super().__init__()
        self.settings = app_settings_mod.app_settings()
        self.dataset: Dataset | None = None
        self._slots: dict[str, TaskSlot] = {}  # one per kind of job: open, verify, export, ...
        self._opening: str | None = None  # what is being opened now
        self._current_path: str | None = None  # what the shown dataset was opened from
        self._closing = False
        self._shown_splitters: set[QSplitter] = set()  # laid out this session: worth saving
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self._default_size()

        self.browser = BrowserPanel()
        self.welcome = WelcomePage()
        self.browser.set_welcome(self.welcome)
        self.device_text: str | None = None
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.browser, "Browse")
        self.training = TrainingPanel()
        self.tabs.addTab(self.training, "Train")
        self.training.run_finished.connect(self._on_training_finished)
        self.experiments = ExperimentsPanel()
        self.tabs.addTab(self.experiments, "Experiments")
        self.evaluation = EvaluationPanel()
        self.tabs.addTab(self.evaluation, "Evaluate")
        self.predict = PredictPanel()
        self.tabs.addTab(self.predict, "Predict")
        self.evaluation.relabel_requested.connect(self._relabel_from_evaluation)
        self.evaluation.reveal_requested.connect(self._reveal_in_browser)
        self.evaluation.review_requested.connect(self._review_in_browser)
        self.predict.relabel_requested.connect(self._relabel_from_evaluation)  # same store, undo
        self.predict.reveal_requested.connect(self._reveal_in_browser)
        self.evaluation.open_requested.connect(self.open_path)
        self.evaluation.selection_changed.connect(self._update_label_actions)
        self.evaluation.tabs.currentChanged.connect(lambda _i: self._update_label_actions())
        self.tabs.currentChanged.connect(lambda _i: self._update_label_actions())
        self.setCentralWidget(self.tabs)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        experiment_actions.connect_to_window(self)
        self.browser.set_label_actions(self.act_male, self.act_female)
        for engine in (self.evaluation.engine, self.predict.engine):  # memory given back: say so
            engine.released.connect(lambda text: self.statusBar().showMessage(text, 15000))
        self.browser.status_changed.connect(self.status_text.setText)
        self.browser.labels_changed.connect(self._update_label_actions)
        self.browser.labels_changed.connect(self.evaluation.labels_changed)
        self.browser.labels_changed.connect(self.predict.labels_changed)
        self.browser.image_failed.connect(lambda *_: self._update_problems())
        self.browser.selection_changed.connect(self._update_label_actions)
        self.browser.edit_failed.connect(lambda message: self._error("Label not saved", message))
        self.browser.auto_advance.setChecked(
            self.settings.value("autoAdvance", True, type=bool)  # type: ignore[arg-type]
        )
        self._connect_welcome()
        self._restore_geometry()
        self._restore_training_options()
        self.training.running_changed.connect(self._on_training_running)
        self._update_label_actions()
        # The device probe starts a process that imports torch (seconds of CPU): run it once the
        # first dataset is open (or after a few idle seconds), so it does not slow the import.
        self._device_known = False
        QTimer.singleShot(4000, self, self._detect_device)

    # -- construction -----------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, tip: str = "", icon_=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts(shortcut)
            else:
                action.setShortcut(shortcut)
        if icon_ is not None:
            action.setIcon(icon_)
        tip = tip or text.replace("&", "").rstrip("…")
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip} ({keys})" if keys else tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.act_open_folder = self._action(
            "&Open Folder…",
            self.choose_folder,
            QKeySequence.StandardKey.Open,
            "Open a dataset folder",
            icon("folder-open"),
        )
        self.act_open_file = self._action(
            "Open &File…",
            self.choose_file,
            "Ctrl+Shift+O",
            "Open an annotation file (.txt/.csv) or a .zip",
            icon("file-open"),
        )
        self.act_open_demo = self._action(
            "Open &Demo Dataset", self.open_demo, None, "Open the built-in synthetic demo dataset"
        )
        self.act_export = self._action(
            "&Export Labels…",
            self.export_labels,
            "Ctrl+E",
            "Export labels with your edits as a CelebA-style CSV",
            icon("export"),
        )
        self.act_split = self._action(
            "&Split Settings…",
            self.edit_split,
            None,
            "Change the ratios and seed of the train/val/test split",
        )
        self.act_problems = self._action(
            "Dataset &Problems…",
            self.show_problems,
            None,
            "List missing, corrupt and skipped images",
        )
        self.act_quit = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_undo = self._action(
            "&Undo Label",
            self.undo,
            QKeySequence.StandardKey.Undo,
            "Undo the last label change",
            icon("undo"),
        )
        self.act_redo = self._action(
            "&Redo Label",
            self.redo,
            [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")],
            "Redo the label change",
            icon("redo"),
        )
        self.act_male = self._action(
            "&Male", lambda: self.label(1), "M", "Label the selected image(s) Male", icon("male")
        )
        self.act_female = self._action(
            "&Female",
            lambda: self.label(0),
            "F",
            "Label the selected image(s) Female",
            icon("female"),
        )
        self.act_select_all = self._action(
            "Select &All Shown", self.browser.grid.selectAll, QKeySequence.StandardKey.SelectAll
        )
        self.act_sample = self._action(
            "&Random Sample",
            self.browser.filters.reshuffle,
            "Ctrl+R",
            "Show a random sample of the current filter",
            icon("shuffle"),
        )
        self.act_reset = self._action(
            "Reset &Filters",
            lambda: self.browser.filters.clear(),
            "Ctrl+Shift+R",
            "Show every image",
            icon("filter-reset"),
        )
        self.act_search = self._action(
            "Search File &Names", self._focus_search, QKeySequence.StandardKey.Find
        )
        self.act_shortcuts = self._action(
            "&Keyboard Shortcuts…",
            self.show_shortcuts,
            QKeySequence.StandardKey.HelpContents,
            "Every keyboard shortcut of the app",
        )
        self.act_about = self._action(f"&About {APP_NAME}", self.about)
        self.theme_group = QActionGroup(self)
        current = str(self.settings.value("theme", "system"))
        self.theme_actions = {}
        for name in THEMES:
            action = QAction(name.capitalize(), self, checkable=True)
            action.setChecked(name == current)
            action.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            self.theme_group.addAction(action)
            self.theme_actions[name] = action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.act_open_folder, self.act_open_file])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.act_open_demo)
        file_menu.addSeparator()
        file_menu.addAction(self.act_export)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.act_undo, self.act_redo])
        edit_menu.addSeparator()
        edit_menu.addActions([self.act_male, self.act_female, self.act_select_all])
        view_menu = bar.addMenu("&View")
        view_menu.addActions([self.act_search, self.act_sample, self.act_reset])
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        theme_menu.addActions(list(self.theme_actions.values()))
        dataset_menu = bar.addMenu("&Dataset")
        dataset_menu.addActions([self.act_split, self.act_problems])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.act_shortcuts, self.act_about])
        self._rebuild_recent()

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addActions([self.act_open_folder, self.act_open_file])
        bar.addSeparator()
        bar.addActions([self.act_male, self.act_female, self.act_undo, self.act_redo])
        bar.addSeparator()
        bar.addActions([self.act_sample, self.act_reset, self.act_export])

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_text = QLabel("No dataset open")
        self.progress = QProgressBar(maximumWidth=220, textVisible=True)
        self.progress.hide()
        self.cancel_button = QToolButton(text="Cancel")
        self.cancel_button.setToolTip("Cancel the running import or check")
        self.cancel_button.clicked.connect(self.cancel_tasks)
        self.cancel_button.hide()
        self.problems_button = QToolButton()
        self.problems_button.setAutoRaise(True)
        self.problems_button.clicked.connect(self.show_problems)
        self.problems_button.hide()
        self.edits_label = QLabel()
        self.device_label = QLabel("Device: detecting…")
        self.device_label.setToolTip("The device training and prediction will use")
        # Everything permanent sits on the right, so temporary messages (status tips, "Opened…")
        # on the left never cover the counts.
        for widget in (
            self.progress,
            self.cancel_button,
            self.status_text,
            self.problems_button,
            self.edits_label,
            self.device_label,
        ):
            bar.addPermanentWidget(widget)

    def _default_size(self) -> None:
        """1360 x 860, or 90 % of a smaller screen."""
        screen = QGuiApplication.primaryScreen()
        width, height = 1360, 860
        if screen is not None:
            available = screen.availableGeometry()
            width = min(width, int(available.width() * 0.9))
            height = min(height, int(available.height() * 0.9))
        self.resize(width, height)

    def _restore_geometry(self) -> None:
        """Window geometry, toolbar state and every splitter, as they were at the last close."""
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = self.settings.value("windowState")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        for key, splitter in self._splitters().items():
            saved = self.settings.value(f"splitters/{key}")
            if isinstance(saved, QByteArray):
                splitter.restoreState(saved)
            splitter.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and isinstance(watched, QSplitter):
            self._shown_splitters.add(watched)
        return super().eventFilter(watched, event)

    def _save_geometry(self) -> None:
        """Geometry, toolbars and the splitters shown this session: one never laid out (a tab
        not visited, the browser behind the welcome page) reports made-up sizes, so the ones
        saved last time stay."""
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        for key, splitter in self._splitters().items():
            if splitter in self._shown_splitters:
                self.settings.setValue(f"splitters/{key}", splitter.saveState())

    def _splitters(self) -> dict[str, QSplitter]:
        """Every splitter of every panel, keyed by its place in the widget tree (object names
        where set, else class and position), so panels need no code of their own for it."""
        found: dict[str, QSplitter] = {}
        for splitter in self.findChildren(QSplitter):
            parts = []
            widget = splitter
            while widget is not None and widget is not self:
                parent = widget.parentWidget()
                name = widget.objectName()
                if not name:
                    kin = [
                        w for w in (parent.children() if parent else []) if type(w) is type(widget)
                    ]
                    name = f"{type(widget).__name__}{kin.index(widget) if widget in kin else 0}"
                parts.append(name)
                widget = parent
            found["-".join(reversed(parts))] = splitter
        return found

    def _restore_training_options(self) -> None:
        """The Train form as it was at the last Start or close; damaged settings are ignored
        (the form keeps its defaults)."""
        text = self.settings.value(TRAINING_OPTIONS)
        if not isinstance(text, str) or not text:
            return
        try:
            self.training.form.set_config(TrainConfig.from_dict(json.loads(text)))
        except (UserError, ValueError, TypeError, KeyError) as exc:
            self.statusBar().showMessage(f"The saved training options were not used: {exc}", 8000)

    def save_training_options(self) -> bool:
        """Remember the Train form's settings (at Start and at close); a form that does not
        validate leaves the last good ones in place. Returns whether they were saved."""
        try:
            config = self.training.form.config(str(self.dataset.root) if self.dataset else "-")
        except (UserError, ValueError):
            return False
        data = config.to_dict()
        data["data"] = ""  # the dataset is the open one, not part of the form
        self.settings.setValue(TRAINING_OPTIONS, json.dumps(data))
        return True

    def _on_training_running(self, running: bool) -> None:
        if running:
            self.save_training_options()

    # -- background tasks -------------------------------------------------------------------------
    @property
    def _tasks(self) -> dict[str, Task]:
        """The job each busy slot is running, by name."""
        return {name: slot.task for name, slot in self._slots.items() if slot.task is not None}

    def _slot(self, name: str) -> TaskSlot:
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = TaskSlot(self)
            slot.progressed.connect(self._on_progress)
            slot.cancelled.connect(lambda: self.statusBar().showMessage("Cancelled", 4000))
            slot.busy_changed.connect(lambda busy, n=name: busy or self._slot_idle(n))
        return slot

    def _run(self, name: str, fn: TaskFn, on_success, on_failed=None) -> Task:
        """Run ``fn`` as the one job under ``name``: its predecessor is cancelled, and nothing
        the predecessor reports afterwards reaches the window (ui/tasks.TaskSlot)."""
        slot = self._slot(name)
        task = slot.start(fn, on_success, on_failed or (lambda msg: self._task_failed(task, msg)))
        if name not in QUIET_TASKS:
            self.cancel_button.show()
        return task

    def _task_failed(self, task: Task, message: str) -> None:
        if task.internal_failure:  # the internal-error dialog is already open
            self.statusBar().showMessage(message, 8000)
        else:
            self._error("Error", message)

    def _slot_idle(self, name: str) -> None:
        if name == "open" and not self._closing:
            QTimer.singleShot(0, self, self._detect_device)
        if not any(n not in QUIET_TASKS for n in self._tasks):
            self.progress.hide()
            self.cancel_button.hide()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.progress.show()
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{message} %p%")

    def cancel_tasks(self) -> None:
        for name, slot in self._slots.items():
            if name not in QUIET_TASKS:
                slot.cancel()

    def wait_for_tasks(self) -> None:
        for slot in self._slots.values():
            slot.cancel()
            slot.wait()

    def _detect_device(self) -> None:
        if self._closing or self._device_known or "open" in self._tasks:
            return
        self._device_known = True

        def fn(progress, cancel):
            return probe_device(cancel)

        self._run(
            "device",
            fn,
            self._on_device,
            lambda msg: self._on_device(f"unknown ({msg})", failed=True),
        )

    def _on_device(self, text: str, failed: bool = False) -> None:
        self.device_text = text
        self.device_detected.emit(text)
        if failed:  # the reason can be long: the status bar says "unknown", its tooltip why
            self.device_label.setText("Device: unknown")
            self.device_label.setToolTip(f"The device probe failed: {text}")
            return
        self.device_label.setText(f"Device: {text}")
        self.training.set_device_text(text)
        self.predict.set_device_text(text)

    def _on_training_finished(self, summary: dict) -> None:
        self.predict.refresh_runs()
        if "failed" in summary:
            self._error("Training failed", summary["failed"])
        run_dir = summary.get("run_dir")
        self.evaluation.refresh_runs(run_dir if summary.get("test") else None)

    # -- opening ------------------------------------------------------------------------------------
    def open_path(self, path: str | os.PathLike[str], split_spec: SplitSpec | None = None) -> Task:
        """Open a dataset in the background; the window stays usable and shows progress."""
        target = str(path)

        def fn(progress, cancel):
            root = ensure_demo(progress, cancel) if target == DEMO else target
            return open_dataset(root, split_spec=split_spec, progress=progress, cancel=cancel)

        self._opening = target
        self.statusBar().showMessage(f"Opening {target if target != DEMO else 'the demo dataset'}…")
        return self._run("open", fn, self._on_opened, self._on_open_failed)

    def open_demo(self) -> Task:
        return self.open_path(DEMO)

    def choose_folder(self) -> None:
        folder = file_dialogs.choose_folder(self, "dataset", "Open a dataset folder")
        if folder:
            self.open_path(folder)

    def choose_file(self) -> None:
        path = file_dialogs.open_file(
            self,
            "dataset",
            "Open an annotation file or archive",
            "Datasets (*.txt *.csv *.zip);;All files (*)",
        )
        if path:
            self.open_path(path)

    def _on_opened(self, dataset: Dataset) -> None:
        previous = self.dataset
        current = self.browser.store
        if current is not None and current.folder == dataset.sidecar():
            self.browser.close_store()  # the same dataset again: hand its lock over
        try:
            store = LabelStore(dataset)
        except (UserError, OSError) as exc:  # in use elsewhere, or the app folder is not writable
            dataset.images.close()
            self._on_open_failed(explain(exc).message)
            return
        checking = self._slots.get("verify")
        if checking is not None:  # still reading the previous dataset's files: stop it first
            checking.cancel()
            checking.wait()
        self.dataset = dataset
        self._current_path = self._opening or str(dataset.root)
        self._opening = None
        self.browser.set_dataset(dataset, store)
        self.training.set_dataset(dataset)
        self.predict.set_dataset(dataset, store)
        self.evaluation.set_dataset(dataset, store)
        if previous is not None and previous is not dataset:
            previous.images.close()
        key = DEMO if dataset.is_demo else self._current_path
        app_settings_mod.remember_recent(self.settings, key)
        self.settings.setValue("lastDataset", key)
        self._rebuild_recent()
        title = f"{dataset.name} (synthetic demo)" if dataset.is_demo else dataset.name
        self.setWindowTitle(f"{title} — {dataset.layout} — {APP_NAME}")
        message = f"Opened {dataset.name}: {len(dataset):,} images"
        if store.orphaned:
            message += (
                f" · {len(store.orphaned):,} earlier label edit(s) refer to images no longer in "
                "this dataset"
            )
        self.statusBar().showMessage(message, 10000)
        self._update_problems()
        self._update_label_actions()
        self.dataset_opened.emit(dataset)
        self._verify(dataset)
        for problem in store.problems:  # damaged journal lines set aside: the user must know
            self._error("Some label edits were set aside", problem)

    def _on_open_failed(self, message: str) -> None:
        self._opening = None
        self.statusBar().clearMessage()
        self.open_failed.emit(message)
        self._error("Cannot open this dataset", message)

    def _verify(self, dataset: Dataset) -> None:
        def fn(progress, cancel):
            return dataset.scan_corrupt(progress, cancel)

        def done(found: list[tuple[str, str]]) -> None:
            dataset.merge_corrupt(found)
            self._update_problems()
            self.verified.emit()

        self._run("verify", fn, done)

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        recent = app_settings_mod.recent_paths(self.settings)
        for path in recent:
            text = "Demo dataset (synthetic)" if path == DEMO else path
            action = self.recent_menu.addAction(text)
            action.setData(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(recent))
        self.welcome.set_recent(recent)
        self._check_recent(recent)

    def _check_recent(self, recent: list[str]) -> None:
        """Which recent datasets are gone, found off the GUI thread (a detached network drive
        can take seconds to answer); the welcome page then marks them."""
        paths = [p for p in recent if p != DEMO]

        def fn(progress, cancel):
            return recent, {p for p in paths if not Path(p).exists()}

        def done(result: tuple[list[str], set[str]]) -> None:
            shown, missing = result
            if shown == app_settings_mod.recent_paths(self.settings):  # not changed since
                self.welcome.set_recent(shown, missing)
                for action in self.recent_menu.actions():
                    if action.data() in missing:
                        action.setText(f"{action.data()} (missing)")
                        action.setEnabled(False)

        if paths and not self._closing:
            self._run("recent", fn, done, lambda _msg: None)

    def forget_recent(self, path: str) -> None:
        app_settings_mod.forget_recent(self.settings, path)
        self._rebuild_recent()

    def _connect_welcome(self) -> None:
        page = self.welcome
        page.open_folder_requested.connect(self.choose_folder)
        page.open_file_requested.connect(self.choose_file)
        page.demo_requested.connect(self.open_demo)
        page.recent_requested.connect(self.open_path)
        page.forget_requested.connect(self.forget_recent)

    # -- labeling -----------------------------------------------------------------------------------
    def label(self, male: int) -> None:
        """M / F label what the user is looking at: the Evaluate tab's gallery selection there,
        the browser's selection otherwise (both through the same label store and undo)."""
        if self.tabs.currentWidget() is self.evaluation:
            self.evaluation.label_selected(male)
        elif self.tabs.currentWidget() is self.browser:
            self.browser.label_selected(male)

    def _relabel_from_evaluation(self, rows: list[int], male: int) -> None:
        if self.browser.relabel_rows(rows, male) is not None:
            name = "Male" if male else "Female"
            self.statusBar().showMessage(
                f"Labeled {len(rows):,} image(s) {name} · Ctrl+Z undoes", 4000
            )

    def _reveal_in_browser(self, rows: list[int]) -> None:
        self.tabs.setCurrentWidget(self.browser)
        self.browser.reveal_rows(rows)

    def _review_in_browser(self, rows: list[int], title: str) -> None:
        self.tabs.setCurrentWidget(self.browser)
        self.browser.show_review(rows, title)

    def undo(self) -> None:
        if self.tabs.currentWidget() is self.experiments and self.experiments.can_undo():
            self.experiments.undo_delete()  # Ctrl+Z on the Experiments tab: the last delete
            return
        if self.browser.undo() is not None:
            self.statusBar().showMessage("Undone", 2000)

    def redo(self) -> None:
        if self.browser.redo() is not None:
            self.statusBar().showMessage("Redone", 2000)

    def _update_label_actions(self) -> None:
        store = self.browser.store
        if self.tabs.currentWidget() is self.evaluation:
            has_selection = bool(store and self.evaluation.selected_rows())
        elif self.tabs.currentWidget() is self.browser:
            has_selection = bool(self.browser.selected_rows()) if store else False
        else:
            has_selection = False
        self.act_male.setEnabled(has_selection)
        self.act_female.setEnabled(has_selection)
        self.act_undo.setEnabled(
            bool(store and store.can_undo())
            or (self.tabs.currentWidget() is self.experiments and self.experiments.can_undo())
        )
        self.act_redo.setEnabled(bool(store and store.can_redo()))
        for action in (self.act_export, self.act_sample, self.act_reset, self.act_problems):
            action.setEnabled(store is not None)
        ours = self.dataset is not None and self._split_is_ours()
        self.act_split.setEnabled(ours)
        if self.dataset is not None and not ours:
            origin = self.dataset.report.split_origin
            self.act_split.setStatusTip(f"This dataset brings its own split ({origin})")
        else:
            self.act_split.setStatusTip("Change the ratios and seed of the train/val/test split")
        edits = store.edit_count if store else 0
        self.edits_label.setText(f"{edits:,} edited" if store else "")

    def _split_is_ours(self) -> bool:
        return self.dataset is not None and self.dataset.report.split_origin.startswith("seeded")

    def _update_problems(self) -> None:
        if self.dataset is None:
            self.problems_button.hide()
            return
        r = self.dataset.report
        count = len(r.missing) + len(r.corrupt) + len(r.skipped)
        self.problems_button.setVisible(count > 0)
        self.problems_button.setText(f"⚠ {count:,} problem{'s' if count != 1 else ''}")
        self.problems_button.setToolTip(
            f"{len(r.missing):,} missing · {len(r.corrupt):,} corrupt · {len(r.skipped):,} skipped"
        )

    # -- commands -----------------------------------------------------------------------------------
    def export_labels(self) -> None:
        store = self.browser.store
        if self.dataset is None or store is None:
            return
        dialog = ExportDialog(store.edit_count, self)
        if not dialog.exec():
            return
        name = f"{self.dataset.name}_labels.csv"
        path, _ = file_dialogs.save_file(self, "export", "Export labels", name, "CSV (*.csv)")
        if path:
            self.export_to(path, dialog.coding())

    def export_to(self, path: str, coding: str) -> Task | None:
        dataset, store = self.dataset, self.browser.store
        if dataset is None or store is None:
            return None
        male = store.male.copy()

        def fn(progress, cancel):
            return export_labels(dataset, male, path, coding)

        return self._run(
            "export",
            fn,
            lambda out: self.statusBar().showMessage(f"Labels exported to {out}", 6000),
            lambda msg: self._error("Export failed", msg),
        )

    def edit_split(self) -> None:
        if self.dataset is None:
            return
        stored = load_stored(self.dataset.sidecar(), self.dataset.table["image_id"])
        dialog = SplitDialog(stored[0] if stored else SplitSpec(), self)
        if dialog.exec():
            self.open_path(self._current_path or self.dataset.root, split_spec=dialog.spec())

    def show_problems(self) -> None:
        if self.dataset is not None:
            ProblemsDialog(self.dataset.report, self).exec()

    def set_theme(self, name: str) -> None:
        self.settings.setValue("theme", name)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)

    def about(self) -> AboutDialog:
        """Help ▸ About, with the device as the probe reports it (asked for now if it has not
        run yet); the dialog fills it in when the answer comes."""
        dialog = AboutDialog(self.device_text, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.device_detected.connect(dialog.set_device)
        self._detect_device()
        dialog.show()
        return dialog

    def show_shortcuts(self) -> ShortcutSheet:
        sheet = ShortcutSheet(self)
        sheet.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        sheet.show()
        return sheet

    def _focus_search(self) -> None:
        self.browser.filters.search.setFocus()
        self.browser.filters.search.selectAll()

    def _error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message, 8000)
        QMessageBox.warning(self, title, message)

    # -- drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_path(paths[0])

    # -- closing ------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self._closing = True
        self._save_geometry()
        self.save_training_options()
        self.settings.setValue("autoAdvance", self.browser.auto_advance.isChecked())
        self.wait_for_tasks()
        self.experiments.shutdown()
        for client in (self.evaluation.engine, self.predict.engine, self.training.client):
            client.stop_soon()  # all wind down at once; the shutdowns below only wait
        self.training.shutdown()
        self.predict.shutdown()
        self.evaluation.shutdown()
        self.browser.close_dataset()
        if self.dataset is not None:
            self.dataset.images.close()
        self.settings.sync()
        super().closeEvent(event)
