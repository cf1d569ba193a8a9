"""The Evaluate panel: metrics, confusion matrix, ROC, slices, misclassifications and label errors."""
