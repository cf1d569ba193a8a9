"""First run: the welcome page and its recent list, settings that survive a restart, Help."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import builders
from forms import tiny_form
from PySide6.QtCore import QSettings, Qt, qVersion
from PySide6.QtGui import QAction, QGuiApplication

from gender_desktop.data.detect import LAYOUTS
from gender_desktop.ui import settings as app_settings
from gender_desktop.ui.app import initial_dataset
from gender_desktop.ui.help import ShortcutSheet, key_text
from gender_desktop.ui.welcome import DEMO


def _settings_file(home: Path) -> Path:
    return home / "data" / "settings.ini"


def test_the_welcome_page_explains_and_its_demo_button_opens_the_demo(make_window, qtbot):
    window = make_window()
    browser, page = window.browser, window.welcome
    assert browser.pages.currentWidget() is page and page.isVisible()
    assert page.no_recent.isVisible()  # a first start: nothing opened yet
    assert initial_dataset(window, None, demo=False) is None  # so nothing opens: this page
    # The layouts are those of the reader table detection walks, in its order.
    assert [label.text() for label in page.layout_labels] == [layout.files for layout in LAYOUTS]
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        qtbot.mouseClick(page.demo, Qt.MouseButton.LeftButton)
    assert window.dataset.is_demo
    assert browser.pages.currentWidget() is browser.splitter and browser.grid.isVisible()
    assert [row.path for row in page.rows] == [DEMO]


def test_recent_datasets_open_and_a_missing_one_is_marked_and_removable(
    make_window, open_dataset_in, qtbot, tmp_path, app_home
):
    there = builders.celeba_official(tmp_path / "there", 20)
    gone = tmp_path / "gone" / "labels.csv"
    settings = app_settings.app_settings()
    for path in (str(gone), DEMO, str(there)):
        app_settings.remember_recent(settings, path)
    settings.sync()
    window = make_window()
    page = window.welcome
    assert [row.path for row in page.rows] == [str(there), DEMO, str(gone)]
    qtbot.waitUntil(lambda: page.rows[-1].missing, timeout=10_000)  # checked off the GUI thread
    missing = page.rows[-1]
    assert missing.state.isVisibleTo(page) and missing.state.text() == "missing"
    assert not missing.open_button.isEnabled() and missing.remove_button.isVisibleTo(page)
    assert not page.rows[0].missing and not page.rows[0].remove_button.isVisibleTo(page)
    assert page.rows[0].open_button.text() == f"there  —  {tmp_path}"
    menu = {action.data(): action for action in window.recent_menu.actions()}
    assert menu[str(gone)].text() == f"{gone} (missing)" and not menu[str(gone)].isEnabled()
    assert menu[str(there)].isEnabled()
    qtbot.mouseClick(missing.remove_button, Qt.MouseButton.LeftButton)
    assert [action.data() for action in window.recent_menu.actions()] == [str(there), DEMO]
    assert [row.path for row in page.rows] == [str(there), DEMO]
    window.settings.sync()
    on_disk = QSettings(str(_settings_file(app_home)), QSettings.Format.IniFormat)
    assert app_settings.recent_paths(on_disk) == [str(there), DEMO]
    with qtbot.waitSignals([window.dataset_opened, window.verified], timeout=30_000):
        qtbot.mouseClick(page.rows[0].open_button, Qt.MouseButton.LeftButton)
    assert window.dataset.root == there and len(window.dataset) == 20


def test_settings_survive_a_restart_in_the_test_home_only(
    make_window, open_dataset_in, qtbot, tmp_path, app_home
):
    """Geometry, every splitter, the theme, the Train form and the last dataset come back; the
    settings file is the test's own (GENDER_DESKTOP_HOME), never the user's."""
    data = builders.celeba_official(tmp_path / "faces", 20)
    first = make_window()
    open_dataset_in(first, data)
    first.resize(1200, 750)
    height = first.height()
    first.browser.splitter.setSizes([300, 500, 311])
    sizes = first.browser.splitter.sizes()
    first.theme_actions["dark"].trigger()
    tiny_form(first.training.form, epochs=7)
    first.training.form.lr.setValue(0.0123)
    first.close()
    ini = _settings_file(app_home)
    assert os.environ["GENDER_DESKTOP_HOME"] == str(app_home) and ini.is_file()
    saved = json.loads(QSettings(str(ini), QSettings.Format.IniFormat).value("training/options"))
    assert saved["epochs"] == 7 and saved["model"]["backbone"] == "resnet18"

    second = make_window()
    # The offscreen screen is 800 px wide and the panels need ~1120: Qt clamps the restored
    # width to fit, so the height (which fits) is what shows the geometry came back.
    assert second.height() == height == 750  # the default would be 720 (90 % of 800)
    assert second.theme_actions["dark"].isChecked()
    form = second.training.form
    assert form.epochs.value() == 7 and form.backbone_name() == "resnet18"
    assert abs(form.lr.value() - 0.0123) < 1e-9 and form.input_size.value() == 32
    second.close()  # closed before the browser was ever shown: the sizes saved stay
    third = make_window()
    open_dataset_in(third, data)  # the splitter shows and takes its saved sizes
    restored = third.browser.splitter.sizes()
    assert (restored[0], restored[2]) == (sizes[0], sizes[2]) == (300, 311)  # the grid stretches
    assert initial_dataset(third, None, demo=False) == str(data)  # reopened at start
    third.theme_actions["light"].trigger()
    third.close()
    shutil.rmtree(data)
    assert initial_dataset(make_window(), None, demo=False) is None  # gone: the welcome page


def test_the_train_form_is_saved_when_a_run_starts(make_window, qtbot, app_home):
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    tiny_form(window.training.form, epochs=3)
    window.training.form.seed.setValue(4242)
    with qtbot.waitSignal(window.training.run_finished, timeout=120_000):
        window.training.start_button.click()
        on_disk = QSettings(str(_settings_file(app_home)), QSettings.Format.IniFormat)
        saved = json.loads(on_disk.value("training/options"))
        window.training.stop()
    assert saved["seed"] == 4242 and saved["epochs"] == 3 and saved["data"] == ""


def test_the_shortcut_sheet_lists_every_action_with_a_shortcut(make_window, qtbot):
    window = make_window()
    window.activateWindow()  # window shortcuts answer in the active window
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(window.welcome.demo, Qt.Key.Key_F1)  # Help ▸ Keyboard Shortcuts
    sheets = [w for w in window.findChildren(ShortcutSheet) if w.isVisible()]
    assert len(sheets) == 1
    rows = sheets[0].rows()
    listed = {(text, keys) for _group, text, keys in rows}
    with_keys = [a for a in window.findChildren(QAction) if key_text(a.shortcuts())]
    assert len(with_keys) >= 12
    for action in with_keys:
        text = action.text().replace("&", "").rstrip("…")
        assert (text, key_text(action.shortcuts())) in listed, text
    assert ("Edit", "Redo Label", "Ctrl+Shift+Z or Ctrl+Y") in rows
    assert ("File", "Open Folder", "Ctrl+O") in rows
    assert ("Experiments", "← All runs", "Esc") in rows  # a button's shortcut, by its tab
    assert ("Experiments", "Move the selected runs to the trash", "Del") in rows
    groups = list(dict.fromkeys(group for group, _t, _k in rows))
    assert groups[:4] == ["File", "Edit", "View", "Help"]


def test_about_shows_the_versions_and_the_device(make_window, qtbot):
    window = make_window()
    about = window.about()
    text = about.text()
    assert f"torch: {metadata.version('torch')}" in text
    assert f"torchvision: {metadata.version('torchvision')}" in text
    assert f"Qt: {qVersion()}" in text and f"Python: {sys.version.split()[0]}" in text
    # The device comes from the window's probe (a child process), filled in when it answers.
    qtbot.waitUntil(lambda: window.device_text is not None, timeout=120_000)
    assert f"Device: {window.device_text}" in about.text()
    assert window.device_text.startswith(("CPU (", "CUDA", "Apple MPS"))
    assert window.device_text in about.details.text()
    qtbot.mouseClick(about.copy_button, Qt.MouseButton.LeftButton)  # for a bug report
    assert QGuiApplication.clipboard().text() == about.text()
    assert about.copy_button.text() == "Copied"


def test_the_gui_process_shows_about_without_importing_torch(tmp_path):
    code = (
        "import sys\n"
        "from gender_desktop.ui.app import create_app\n"
        "from gender_desktop.ui.main_window import MainWindow\n"
        "app = create_app(); w = MainWindow(); w.show(); a = w.about()\n"
        "w.show_shortcuts()\n"
        "assert 'torch: ' in a.text(), a.text()\n"
        "print('torch' in sys.modules, 'torchvision' in sys.modules)\n"
        "w.close()\n"
    )
    env = dict(os.environ, GENDER_DESKTOP_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["False", "False"]


def test_every_setting_goes_to_the_one_settings_file() -> None:
    """Only ui/settings.py makes a QSettings (in GENDER_DESKTOP_HOME when it is set): a default
    QSettings() elsewhere would write to the user's real profile, from the app and the tests."""
    package = Path(app_settings.__file__).parents[1]
    makers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "QSettings(" in path.read_text(encoding="utf-8")
    )
    assert makers == [str(Path("ui") / "settings.py")]
