"""Qt-free machine-learning core: devices now; models, training and prediction build on it."""
