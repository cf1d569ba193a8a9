"""Files the app ships: icons and the stylesheet (importable as ``gender_desktop.resources``)."""
