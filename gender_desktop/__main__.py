"""``python -m gender_desktop`` behaves exactly like the ``gender-desktop`` launcher."""

from gender_desktop.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
