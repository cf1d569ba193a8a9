"""The Predict panel: drop photos, see Male/Female with probabilities and Grad-CAM."""
