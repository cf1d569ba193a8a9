"""``python -m gender_desktop`` behaves exactly like the ``gender-desktop`` launcher."""

import multiprocessing

from gender_desktop.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # training runs in a spawned child, also in a frozen app
    raise SystemExit(main())
